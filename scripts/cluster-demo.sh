#!/usr/bin/env bash
# A three-node dynamic DTLS CID cluster behind the NAT / load balancer, all on the loopback range
# (the cluster walk-through of the reference, cluster.md §12): nodes on 127.0.0.2, .3 and .4 (coaps
# 5784, management 5884), the NAT on 127.0.0.1:5784. Ctrl-C (or `exit` in the NAT console) stops all.
#
#   scripts/cluster-demo.sh [--secure] [--direct] [--cid]
#     --secure  management channel over DTLS-PSK with the cluster MAC (--dtls-cluster-group-security)
#     --direct  nodes send straight to the client (--no-dtls-cluster-backward), NAT in reverse mode (-r)
#     --cid     the NAT routes tls12_cid records by node-id (--cid), so the nodes forward nothing
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

secure=() direct=() natopts=()
for arg in "$@"; do
  case "$arg" in
    --secure) secure=(--dtls-cluster-group-security=demoClusterSecret) ;;
    --direct) direct=(--no-dtls-cluster-backward); natopts+=(-r) ;;
    --cid) natopts+=(--cid=1=127.0.0.2:5784,2=127.0.0.3:5784,3=127.0.0.4:5784) ;;
    *) echo "unknown option $arg" >&2; exit 1 ;;
  esac
done

[[ -f dist/src/cli/server-main.js ]] || npm run build >/dev/null
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

for n in 1 2 3; do
  ip=127.0.0.$((n + 1))
  group=()
  for m in 1 2 3; do [[ $m != "$n" ]] && group+=("127.0.0.$((m + 1)):5884"); done
  mkdir -p "$work/node$n"
  (cd "$work/node$n" && exec node "$OLDPWD/dist/src/cli/server-main.js" --no-external --no-ipv6 --dtls-only --no-plugtest \
    --benchmark --diagnose --interfaces-pattern='127\.0\.0\.1' \
    --dtls-cluster="$ip:5784;$ip:5884;$n" --dtls-cluster-group="$(IFS=,; echo "${group[*]}")" \
    ${secure[@]+"${secure[@]}"} ${direct[@]+"${direct[@]}"} </dev/null >"$work/node$n.log" 2>&1) &
  pids+=($!)
done
sleep 3

cat <<TXT
Three cluster nodes run (logs in $work/node{1,2,3}.log):
  node 1: coaps 127.0.0.2:5784, management 127.0.0.2:5884
  node 2: coaps 127.0.0.3:5784, management 127.0.0.3:5884
  node 3: coaps 127.0.0.4:5784, management 127.0.0.4:5884
The NAT / load balancer listens on 127.0.0.1:5784. In another terminal, try:

  npm run client -- -i Client_identity -s secretPSK --cid-length 6 coaps://127.0.0.1:5784/mycontext
      (ip/port as the node sees the NAT, node-id of the node that owns the session, via: dtls-cid-router
       when the record was forwarded by another node)
  npm run benchmark -- coaps://127.0.0.1:5784/benchmark?rlen=40 50 200
  npm run client -- -i Client_identity -s secretPSK coaps://127.0.0.3:5784/diagnose
      (forwarded / backwarded counters of node 2)

and in the NAT console below: info, clear, reassign, rebalance, reverse on|off, help, exit.
TXT
node dist/src/cli/nat-main.js 127.0.0.1:5784 -- 127.0.0.2:5784 127.0.0.3:5784 127.0.0.4:5784 ${natopts[@]+"${natopts[@]}"}
