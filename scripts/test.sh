#!/usr/bin/env bash
# Every test, from a fresh Debian/Ubuntu machine, as root: installs what the tests need,
# `npm ci` (which builds the addon), compiles the TypeScript, then `npm test` on the real
# kernel. The last line is "N passed, N failed". Usage: bash scripts/test.sh [tap args]
set -euo pipefail
cd "$(dirname "$0")/.."

# Tests also use: bpftool (the truth), capsh/setpriv (privilege tests), promtool and
# prometheus (scrape tests), tmux (the live view), systemd-analyze (the unit file), openssl
# (a certificate for the OTLP-over-TLS tests), strace (the systemd unit's system call filter).
bash scripts/install-deps.sh libcap2-bin util-linux prometheus tmux systemd openssl strace

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run build

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
npm test -- --reporter=tap "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
# tap's closing comment: "# { total: N, pass: P, fail: F, ... }"
summary=$(grep -E '^# \{ total:' "$log" | tail -1 || true)
pass=$(sed -nE 's/.*pass: ([0-9]+).*/\1/p' <<<"$summary")
fail=$(sed -nE 's/.*fail: ([0-9]+).*/\1/p' <<<"$summary")
pass=${pass:-0}
fail=${fail:-0}
if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then fail=1; fi
echo "${pass} passed, ${fail} failed"
exit "$rc"
