#!/usr/bin/env bash
# Runs the agent from a fresh Debian/Ubuntu machine, as root: installs what it needs, builds,
# then starts `ebpf-map-pressure`. With no arguments: the agent, with its Prometheus endpoint
# on 127.0.0.1:9464 and OTLP/gRPC to localhost:4317. Arguments replace that command line:
#   bash scripts/agent.sh snapshot            # every map once, fullest first
#   bash scripts/agent.sh run --interval 5s   # any command and flags
#
# One line per step; what the tools print goes to .agent-setup.log, shown when a step fails.
# The addon is compiled once (by npm ci's install step, or again only when its sources
# changed), test fixtures never (scripts/test.sh builds them). Prints how long setup took;
# the agent's `agent started` line adds its own start time (startup_ms).
set -euo pipefail
cd "$(dirname "$0")/.."

LOG=$PWD/.agent-setup.log
: >"$LOG"
t0=$(date +%s%N)
since() { echo "$(( ($(date +%s%N) - $1) / 100000000 ))" | sed -E 's/^([0-9]*)([0-9])$/\1.\2/; s/^\./0./'; }

step() {
  local what=$1 s
  shift
  s=$(date +%s%N)
  printf 'setup: %s ... ' "$what" >&2
  if "$@" >>"$LOG" 2>&1; then
    printf 'done (%s s)\n' "$(since "$s")" >&2
  else
    printf 'FAILED\n' >&2
    tail -n 40 "$LOG" >&2
    echo "setup: the whole output is in $LOG" >&2
    exit 1
  fi
}

# Newer than the file $1: any of the paths after it.
newer() {
  local ref=$1
  shift
  [ ! -f "$ref" ] || [ -n "$(find "$@" -newer "$ref" -print -quit 2>/dev/null)" ]
}

step "system packages" bash scripts/install-deps.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "node modules and the addon (npm ci)" npm ci --no-audit --no-fund
fi
addon=build/Release/ebpf_map_pressure.node
if newer "$addon" bpf native binding.gyp; then
  step "the addon (bpf/, native/)" npm run build:native
fi
if newer dist/cli/main.js src tsconfig.json package.json; then
  step "TypeScript (src/ to dist/)" npm run build:ts
fi
echo "setup: ready in $(since "$t0") s (the log: $LOG)" >&2

if [ "$#" -eq 0 ]; then
  set -- run --exporters otlp,prometheus
fi
exec node bin/ebpf-map-pressure.js "$@"
