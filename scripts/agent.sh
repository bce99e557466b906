#!/usr/bin/env bash
# Runs the agent from a fresh Debian/Ubuntu machine, as root: installs what it needs, builds,
# then starts `ebpf-map-pressure`. With no arguments: the agent, with its Prometheus endpoint
# on 127.0.0.1:9464 and OTLP/gRPC to localhost:4317. Arguments replace that command line:
#   bash scripts/agent.sh snapshot            # every map once, fullest first
#   bash scripts/agent.sh run --interval 5s   # any command and flags
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
# Build when never built, or when a source is newer than the build.
if [ ! -f build/Release/ebpf_map_pressure.node ] || [ ! -f dist/cli/main.js ] ||
  [ -n "$(find src bpf native binding.gyp package.json -newer dist/cli/main.js -print -quit)" ]; then
  npm run build
fi

if [ "$#" -eq 0 ]; then
  set -- run --exporters otlp,prometheus
fi
exec node bin/ebpf-map-pressure.js "$@"
