#!/usr/bin/env bash
# Graceful restart under load (restart.md §3): the benchmark client over coaps with CID (2,000 clients by default)
# while the server runs console `save`/`load` and, in a second run, a process restart through --store-file. Checks
# that no client handshakes again and no request fails, and reports the dip in the client's 10 s progress lines.
# Loopback only, free ports; the figures go to bench-results-restart.json (see --out).
#
#   scripts/restart-demo.sh [--clients 2000] [--requests 500] [--after-line 2] [--offset 3] [--pause 2] [--scenario save-load|restart|both]
#                           [--timeout 300] [--out FILE]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
npm run build >/dev/null
exec node dist/bench/restart-demo.js "$@"
