#!/bin/sh
# The image's entrypoint: runs the service named by $SERVICE with plain node — no tsx, no
# development condition, production dependencies only. `exec`, so node is the process that
# receives SIGTERM and shuts the service down in order.
set -eu
# Node flags of every service: SERVICE_NODE_FLAGS in libs/config/src/service-process.ts (a test compares).
SERVICE_NODE_FLAGS="--max-semi-space-size=8 --max-old-space-size=160"
cd "${PATCHFLOW_HOME:-/app}"
case "${SERVICE:-}" in
  setup-streams) exec node scripts/dist/setup-streams.js "$@" ;;
  patchctl) exec node tools/patchctl/bin/patchctl.mjs "$@" ;;
  "" | */* | .*) ;;
  *) if [ -f "services/$SERVICE/dist/main.js" ]; then exec node $SERVICE_NODE_FLAGS "services/$SERVICE/dist/main.js" "$@"; fi ;;
esac
echo "patchflow: SERVICE must be one of: $(ls services | tr '\n' ' ')setup-streams patchctl (got \"${SERVICE:-}\")" >&2
exit 2
