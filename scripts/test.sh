#!/usr/bin/env bash
# Every test, from a fresh Debian/Ubuntu machine, as root: installs what the tests need,
# `npm ci` (which builds the addon), compiles the TypeScript, type-checks and lints, then
# `npm test` on the real kernel, then the kernel-facing suite (test/kernel) on Debian's 5.10,
# 6.1, 6.12 and 7.2 kernels under QEMU too (scripts/kernel-matrix.sh; the four guests ~35-50 min on 2 cores,
# the kernels downloaded once; EMP_TEST_KERNELS=0 skips them). The last line is
# "N passed, N failed", every run added up.
# Usage: bash scripts/test.sh [tap args for the first run]
set -euo pipefail
cd "$(dirname "$0")/.."

# Tests also use: bpftool (the truth), capsh/setpriv (privilege tests), promtool and
# prometheus (scrape tests), tmux (the live view), systemd-analyze (the unit file), openssl
# (a certificate for the OTLP-over-TLS tests), strace (the systemd unit's system call filter),
# bpftrace (a real tool whose maps the owner tests attribute), gcc (the benchmark's fd holder).
# VictoriaMetrics (the real OTLP backend) is no system package here: its test fetches trixie's with
# scripts/victoria-metrics.sh, once, into /var/cache/ebpf-map-pressure/victoria-metrics.
bash scripts/install-deps.sh libcap2-bin util-linux prometheus tmux systemd openssl strace bpftrace

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run build

log=$(mktemp)
trap 'rm -f "$log" "$log.kernels" "$log.typecheck" "$log.lint"' EXIT
set +e
# Checks beside the tests, each failing the run like a test: the tests, benchmarks and scripts
# type-check (tsconfig.test.json: tap runs them through tsx, which strips types unchecked),
# and ESLint finds nothing (eslint.config.mjs).
checks_failed=()
for check in typecheck lint; do
  if ! npm run --silent "$check" > "$log.$check" 2>&1; then checks_failed+=("$check"); fi
done
npm test -- --reporter=tap "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
runs=1

if [ "${EMP_TEST_KERNELS:-1}" != 0 ]; then
  bash .ci/install-kernel-deps.sh
  set +e
  # 30 min a kernel at the most (a whole guest run takes 8-10): a hung guest fails its
  # kernel, not the whole CI job. tap itself, not through npx: npx costs 10-20 s of an
  # emulated guest's start.
  bash scripts/kernel-matrix.sh --kernels 5.10,6.1,6.12,7.2 --summary "$log.kernels" -t 1800 \
    -- node_modules/.bin/tap --disable-coverage --reporter=tap test/kernel 2>&1 | tee -a "$log"
  krc=${PIPESTATUS[0]}
  set -e
  runs=5
  [ "$krc" -eq 0 ] || rc=$krc
fi

# tap's closing comment, once a run: "# { total: N, pass: P, fail: F, ... }". A guest run
# whose kernel crashed and was rerun (kernel-matrix.sh: "=== kernel-matrix: K: soft lockup,
# rerun ===", or "kernel panic, rerun") counts once, by its rerun: whatever the crashed attempt printed since its
# "=== kernel-matrix: K (release) ===" header is left out.
pass=0
fail=0
seen=0
while read -r line; do
  p=$(sed -nE 's/.*pass: ([0-9]+).*/\1/p' <<<"$line")
  f=$(sed -nE 's/.*fail: ([0-9]+).*/\1/p' <<<"$line")
  pass=$((pass + ${p:-0}))
  fail=$((fail + ${f:-0}))
  seen=$((seen + 1))
done < <(awk '/^=== kernel-matrix: .*: (soft lockup|kernel panic), rerun ===$/ { n = 0; next }
              /^=== kernel-matrix: / { for (i = 0; i < n; i++) print kept[i]; n = 0; next }
              /^# \{ total:/ { kept[n++] = $0 }
              END { for (i = 0; i < n; i++) print kept[i] }' "$log")
# A run that ended without its summary (a guest that never booted, a crash) is a failure.
if [ "$seen" -lt "$runs" ]; then fail=$((fail + runs - seen)); fi
if [ "${#checks_failed[@]}" -gt 0 ]; then
  fail=$((fail + ${#checks_failed[@]}))
  [ "$rc" -ne 0 ] || rc=1
fi
if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then fail=1; fi
# Guest runs whose kernel crashed, said once more next to the totals (they are in the table above).
if [ -s "$log.kernels" ]; then
  sed -nE 's/^\{"kernel":"([^"]*)".*"crashes":[1-9][0-9]*,"note":"([^"]*)".*/kernel-matrix: \1: \2/p' "$log.kernels"
fi
# The failing tests, named where the tail of a CI log shows them: each "not ok" line (a
# file's and its subtests'), with the run it came from, once, at most 40; like the totals,
# a locked-up guest attempt that was rerun is left out.
awk 'function flush(  i) {
       for (i = 0; i < n; i++) if (!(buf[i] in seen) && shown < 40) { seen[buf[i]] = 1; shown++; print "failed: " buf[i] }
       n = 0
     }
     /^=== kernel-matrix: .*: (soft lockup|kernel panic), rerun ===$/ { n = 0; next }
     /^=== kernel-matrix: / { flush(); run = $3; next }
     /^ *not ok / && !/# (TODO|SKIP)/ {
       line = $0; sub(/^ +/, "", line); sub(/ # time=.*$/, "", line)
       buf[n++] = (run == "" ? "host" : run) ": " line
     }
     END { flush() }' "$log"
for check in "${checks_failed[@]}"; do
  grep -v '^$' "$log.$check" | head -n 20 | sed "s/^/failed: $check: /"
done
echo "${pass} passed, ${fail} failed"
exit "$rc"
