#!/usr/bin/env bash
# Benchmark scenarios of the extended plugtest server (clients.md §3.7), run with the benchmark client.
#
# Usage: benchmark.sh [host (localhost)] [client multiplier (10)] [extra client option]
#
# Requires a running server with the benchmark resource, e.g.
#   node dist/src/cli/server-main.js --no-plugtest --benchmark --notify-interval 50
# (the observe scenarios need a short notify interval; with the default of 5 s they take very long).
# Coaps runs use CALI_AUTH (default "--psk-store cali.psk"); start the server with "--psk-file cali.psk" then.
# Without that file the coaps runs use the server's "cali." wildcard identities instead.
#
# Every variable below can be overridden from the environment, e.g.
#   REQS=1000 USE_OBSERVE=0 scripts/benchmark.sh localhost 1
set -u

HOST=${1:-localhost}
MULTIPLIER=${2:-10}
EXTRA=${3:-}

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${BENCHMARK_MAIN:=${SCRIPT_DIR}/../dist/src/cli/benchmark-main.js}"
: "${NODE:=node}"

: "${PLAIN_PORT:=5783}"
: "${SECURE_PORT:=5784}"
: "${RESOURCE_PATH:=benchmark}"
: "${USE_TCP:=1}"
: "${USE_UDP:=1}"
: "${USE_PLAIN:=1}"
: "${USE_SECURE:=1}"
# 1 piggy-backed, 2 separate, 3 both
: "${USE_CON:=3}"
: "${USE_NON:=1}"
: "${USE_LARGE_BLOCK1:=1}"
: "${USE_REQUEST:=1}"
: "${USE_OBSERVE:=1}"
: "${USE_REVERSE:=1}"
: "${USE_REVERSE_OBSERVE:=1}"
: "${USE_HANDSHAKES:=1}"
: "${USE_PROXY:=0}"
: "${USE_HTTP:=0}"
: "${USE_NONESTOP=--no-stop}"
: "${USE_NSTART=--nstart 1}"

: "${REQS:=10000}"
: "${REQS_EXTRA:=$((REQS + REQS / 10))}"
: "${REV_REQS:=$((2 * REQS))}"
: "${NOTIFIES:=3500}"
: "${PAYLOAD:=40}"
: "${PAYLOAD_MEDIUM:=400}"
: "${PAYLOAD_LARGE:=5000}"
: "${REQS_LARGE:=$((PAYLOAD * REQS / PAYLOAD_LARGE))}"

: "${UDP_CLIENTS:=$((200 * MULTIPLIER))}"
: "${TCP_CLIENTS:=$((100 * MULTIPLIER))}"
: "${OBS_CLIENTS:=$((100 * MULTIPLIER))}"

: "${CALI_AUTH=--psk-store cali.psk}"
# pause between two runs (s)
: "${PAUSE:=5}"

echo "extplugtest benchmark: ${HOST}, multiplier ${MULTIPLIER}, ${UDP_CLIENTS} UDP clients, ${REQS} requests per client"

if [ ! -f "${BENCHMARK_MAIN}" ]; then
  echo "${BENCHMARK_MAIN} is missing: run \"npm run build\" first." >&2
  exit 1
fi

case " ${CALI_AUTH} " in
  *" --psk-store "*)
    PSK_FILE=$(echo "${CALI_AUTH}" | sed -e 's/.*--psk-store[ =]\([^ ]*\).*/\1/')
    if [ ! -f "${PSK_FILE}" ]; then
      echo "Note: ${PSK_FILE} not found, coaps runs use \"cali.\" wildcard identities."
      CALI_AUTH=""
    fi
    ;;
esac

if [ "${USE_PROXY}" -ne 0 ] || [ "${USE_HTTP}" -ne 0 ]; then
  echo "Note: proxy and HTTP scenarios are skipped: the benchmark client does not support proxies."
fi

# raise the soft limit of open files: every client has its own socket (TCP: its own connection)
ulimit -S -n 4096 2>/dev/null || true

START_BENCHMARK=$(date +%s)

# run <uri> <client options...>: one benchmark run; stops the script when it fails
run() {
  local uri=$1
  shift
  echo
  echo "=== ${uri} $*"
  # shellcheck disable=SC2086
  "${NODE}" "${BENCHMARK_MAIN}" "${uri}" "$@" ${EXTRA}
  local rc=$?
  if [ ${rc} -ne 0 ]; then
    echo "benchmark failed with status ${rc}" >&2
    exit ${rc}
  fi
  sleep "${PAUSE}"
}

# run_pair <enabled> <plain scheme> <secure scheme> <secure options> <path?query> <client options...>: the run over
# the plain and the secure scheme of one transport (as USE_PLAIN / USE_SECURE select)
run_pair() {
  local enabled=$1 plain=$2 secure=$3 secure_opts=$4 path=$5
  shift 5
  if [ "${enabled}" -eq 0 ]; then return; fi
  if [ "${USE_PLAIN}" -ne 0 ]; then
    # shellcheck disable=SC2086
    run "${plain}://${HOST}:${PLAIN_PORT}/${path}" "$@" ${USE_NONESTOP} ${USE_NSTART}
  fi
  if [ "${USE_SECURE}" -ne 0 ]; then
    # shellcheck disable=SC2086
    run "${secure}://${HOST}:${SECURE_PORT}/${path}" "$@" ${USE_NONESTOP} ${USE_NSTART} ${secure_opts}
  fi
}

# benchmark <path?query> <client options...>: the run for coap and coaps (UDP; coaps with CALI_AUTH)
benchmark() {
  run_pair "${USE_UDP}" coap coaps "${CALI_AUTH}" "$@"
}

# benchmark_tcp <path?query> <client options...>: the run for coap+tcp and coaps+tcp (RFC 8323, one connection per
# client; TLS with the demo client certificate)
benchmark_tcp() {
  run_pair "${USE_TCP}" coap+tcp coaps+tcp "" "$@"
}

# 1. large Block1 POSTs
if [ "${USE_LARGE_BLOCK1}" -ne 0 ] && [ "${USE_REQUEST}" -ne 0 ]; then
  if [ $((USE_CON & 1)) -ne 0 ]; then
    benchmark "${RESOURCE_PATH}?rlen=${PAYLOAD}" --clients "${UDP_CLIENTS}" --requests "${REQS_LARGE}" --payload-random "${PAYLOAD_LARGE}" --blocksize 64
  fi
  if [ "${USE_NON}" -ne 0 ]; then
    benchmark "${RESOURCE_PATH}?rlen=${PAYLOAD}" --clients "${UDP_CLIENTS}" --requests "${REQS_LARGE}" --payload-random "${PAYLOAD_LARGE}" --blocksize 64 --non
  fi
  # TCP: BERT (RFC 8323 §6), 4 blocks of 1024 bytes per message
  benchmark_tcp "${RESOURCE_PATH}?rlen=${PAYLOAD}" --clients "${TCP_CLIENTS}" --requests "${REQS_LARGE}" --payload-random "${PAYLOAD_LARGE}" --bertblocks 4
fi

# 2. requests with piggy-backed responses (CON) and NON
if [ "${USE_REQUEST}" -ne 0 ]; then
  if [ $((USE_CON & 1)) -ne 0 ]; then
    benchmark "${RESOURCE_PATH}?rlen=${PAYLOAD}" --clients "${UDP_CLIENTS}" --requests "${REQS}" --payload-random "${PAYLOAD}"
  fi
  if [ "${USE_NON}" -ne 0 ]; then
    benchmark "${RESOURCE_PATH}?rlen=${PAYLOAD}" --clients "${UDP_CLIENTS}" --requests "${REQS}" --payload-random "${PAYLOAD}" --non
  fi
  benchmark_tcp "${RESOURCE_PATH}?rlen=${PAYLOAD}" --clients "${TCP_CLIENTS}" --requests "${REQS}" --payload-random "${PAYLOAD}"
fi

# 3. separate responses
if [ "${USE_REQUEST}" -ne 0 ] && [ $((USE_CON & 2)) -ne 0 ]; then
  benchmark "${RESOURCE_PATH}?rlen=${PAYLOAD}&ack" --clients "${UDP_CLIENTS}" --requests "${REQS}" --payload-random "${PAYLOAD}"
fi

# 4. observe: re-register every 25, register again every 75 notifications (reactive and proactive cancel)
if [ "${USE_OBSERVE}" -ne 0 ]; then
  benchmark "${RESOURCE_PATH}?rlen=${PAYLOAD}" --clients "${OBS_CLIENTS}" --requests 1 --notifies "${NOTIFIES}" --reregister 25 --register 75
  benchmark "${RESOURCE_PATH}?rlen=${PAYLOAD}" --clients "${OBS_CLIENTS}" --requests 1 --notifies "${NOTIFIES}" --reregister 25 --register 75 --cancel-proactive
fi

# 5. reverse requests: the server GETs the clients' feed resources
if [ "${USE_REVERSE}" -ne 0 ]; then
  benchmark "reverse-request?req=${REQS_EXTRA}&res=feed-CON&rlen=${PAYLOAD}" --clients "${UDP_CLIENTS}" --requests 2 --reverse "${REV_REQS}"
fi

# 6. reverse observe: the server observes the clients' feed resources
if [ "${USE_REVERSE_OBSERVE}" -ne 0 ]; then
  for feed in feed-CON feed-NON; do
    benchmark "reverse-observe?obs=25000&res=${feed}&rlen=${PAYLOAD_MEDIUM}" --clients "${OBS_CLIENTS}" --requests 1 --reverse "${NOTIFIES}" --min -200 --max 200 --blocksize 64
  done
fi

# 7. handshakes: 10 short runs per authentication mode, elapsed seconds per mode
if [ "${USE_HANDSHAKES}" -ne 0 ] && [ "${USE_SECURE}" -ne 0 ] && [ "${USE_UDP}" -ne 0 ]; then
  RESULTS=""
  for mode in PSK ECDHE_PSK RPK X509; do
    case ${mode} in
      PSK) AUTH="${CALI_AUTH}" ;;
      ECDHE_PSK) AUTH="--auth=ECDHE_PSK ${CALI_AUTH}" ;;
      *) AUTH="--auth=${mode}" ;;
    esac
    START=$(date +%s)
    for loop in 1 2 3 4 5 6 7 8 9 10; do
      echo
      echo "=== handshakes ${mode} ${loop}/10"
      # shellcheck disable=SC2086
      "${NODE}" "${BENCHMARK_MAIN}" "coaps://${HOST}:${SECURE_PORT}/${RESOURCE_PATH}?rlen=${PAYLOAD}" --clients "${UDP_CLIENTS}" --requests 10 ${AUTH} ${EXTRA}
      rc=$?
      if [ ${rc} -ne 0 ]; then
        echo "benchmark failed with status ${rc}" >&2
        exit ${rc}
      fi
    done
    END=$(date +%s)
    RESULTS="${RESULTS}${mode}: $((END - START)) s"$'\n'
    sleep "${PAUSE}"
  done
  echo
  echo "Handshakes (10 x ${UDP_CLIENTS} clients):"
  printf '%s' "${RESULTS}"
fi

END_BENCHMARK=$(date +%s)
echo
echo "benchmark: $((END_BENCHMARK - START_BENCHMARK)) s"
