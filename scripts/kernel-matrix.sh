#!/usr/bin/env bash
# kernel-matrix.sh - run one command (by default the kernel-facing test suite)
# on every kernel of the matrix and report which passed.
#
# usage: scripts/kernel-matrix.sh [options] [-- CMD [ARGS...]]
#
#   --kernels LIST   comma-separated subset of: 5.10,6.1,6.12,7.2,host
#                    (default: all; "host" runs CMD directly on this machine's
#                    kernel, the others boot a Debian kernel under QEMU via
#                    scripts/vmrun.sh, fetched first by scripts/kernels.sh)
#   --summary FILE   JSON lines, one per kernel (default: kernel-matrix.jsonl)
#   -j JOBS          kernels run at once (default $EMP_MATRIX_JOBS or 1); with more
#                    than one, each kernel's output is printed whole when it ends
#   -c CPUS          guest CPUs (default 2), passed to vmrun.sh
#   -m MEM           guest memory (default 2G), passed to vmrun.sh
#   -t SECONDS       per-kernel time limit (default 3600), also on the host
#   -w DIR           directory writable from the guests (test output, coverage);
#                    repeatable, passed to vmrun.sh
#   -e VAR[=VALUE]   environment for the guests, passed to vmrun.sh; repeatable
#   CMD              default: npx tap --disable-coverage test/kernel
#
# The command runs as root in the current directory, with EMP_KERNEL_UNDER_TEST
# set to the kernel release (`uname -r`) it runs on.  Kernels run one after the
# other, or -j at once: guests are emulated, a host thread a guest CPU, so two
# 1-CPU guests side by side (-j 2 -c 1) use two host cores as one 2-CPU guest
# does (scripts/test.sh runs 2-CPU guests one at a time: 1-CPU ones were slower).
# Emulation is slow: booting takes seconds, but the kernel suite takes minutes
# per guest (measured on a busy 2-core host: ~5 min on 6.12, ~21 min on 5.10).
#
# A guest whose CPU locks up (the kernel's "BUG: soft lockup"; vmrun.sh makes it
# panic the guest at once, its kernel log replayed into the output), or whose
# kernel panics some other way (an oops in the emulated guest's own code, e.g. a
# NULL dereference in mmap with a garbage EFLAGS: the emulator, not a test), is
# rerun once, and says so: "=== kernel-matrix: 6.1: soft lockup, rerun ===" (or
# "kernel panic, rerun") before the rerun, "(soft lockup, rerun: PASS)" on its
# line.  A second crash fails the kernel; so does a crash after a test had
# already failed (a "not ok" line), and a test failure alone is never rerun.
#
# Prints a line per kernel as it finishes and a table at the end:
#   PASS  6.1    6.1.0-56-amd64          4.9s
#   PASS  6.1    6.1.0-57-amd64        612.0s  (soft lockup, rerun: PASS)
# Each summary line holds: kernel, release, packages, result (pass|fail),
# exit_code, seconds (all attempts), crashes, note (e.g. "soft lockup, rerun:
# PASS"), attempts (exit_code, seconds and crash of each guest run: "soft
# lockup", "kernel panic" or null), command,
# finished_at.
# Exit status: 0 if every kernel passed, 1 if any failed, 2 on a usage error.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ALL=(5.10 6.1 6.12 7.2 host)

die() { echo "kernel-matrix: $*" >&2; exit 2; }

KERNELS=$(IFS=,; echo "${ALL[*]}")
SUMMARY=kernel-matrix.jsonl
TIMEOUT=${EMP_VM_TIMEOUT:-3600}
VMARGS=()
JOBS=${EMP_MATRIX_JOBS:-1}
while [ $# -gt 0 ]; do
  case "$1" in
    --kernels) KERNELS=${2:?--kernels needs a list}; shift 2 ;;
    --kernels=*) KERNELS=${1#*=}; shift ;;
    --summary) SUMMARY=${2:?--summary needs a file}; shift 2 ;;
    --summary=*) SUMMARY=${1#*=}; shift ;;
    -j) JOBS=${2:?-j needs a number}; shift 2 ;;
    -c|-m|-w|-e) VMARGS+=("$1" "${2:?$1 needs a value}"); shift 2 ;;
    -t) TIMEOUT=${2:?-t needs seconds}; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    --) shift; break ;;
    *) die "unknown option '$1' (the command goes after --; see --help)" ;;
  esac
done
[ $# -gt 0 ] || set -- npx tap --disable-coverage test/kernel

[[ "$JOBS" =~ ^[1-9][0-9]*$ ]] || die "-j wants a positive number of kernels at once, got '$JOBS'"
IFS=, read -r -a SELECTED <<<"$KERNELS"
[ ${#SELECTED[@]} -gt 0 ] || die "--kernels is empty"
for k in "${SELECTED[@]}"; do
  case " ${ALL[*]} " in *" $k "*) ;; *) die "unknown kernel '$k' (known: ${ALL[*]})" ;; esac
done

mkdir -p "$(dirname "$SUMMARY")"
: > "$SUMMARY"

json_str() {  # a JSON string literal
  local s=$1
  s=${s//\\/\\\\}; s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}; s=${s//$'\t'/\\t}; s=${s//$'\r'/\\r}
  printf '"%s"' "$s"
}
CMD_JSON=$(for a in "$@"; do json_str "$a"; echo; done | paste -sd, -)

# How the guest's kernel crashed, if it did: "soft lockup" (the kernel's words when a CPU
# has not scheduled for 2 x watchdog_thresh seconds, and the panic that softlockup_panic=1
# turns it into), "kernel panic" (any other), or nothing.
guest_crash() {
  if grep -qE 'BUG: soft lockup - CPU#|Kernel panic - not syncing: softlockup' "$1"; then echo "soft lockup"
  elif grep -qE 'Kernel panic - not syncing' "$1"; then echo "kernel panic"
  fi
}
# A test that failed before the crash: a real failure, which a rerun must not hide.
test_failed() { grep -E '^[[:space:]]*not ok ' "$1" | grep -qvE '# (TODO|SKIP)'; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kernel-matrix.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# run_kernel K CMD...: the command on one kernel; its output on stdout, its table line in
# $WORK/K.line, its summary line in $WORK/K.json.
run_kernel() {
  local k=$1 ATTEMPT_OUT="$WORK/$1.attempt"
  shift
  local release='' packages='' rc=0 note='' crashes=0 attempts='' start t0 crash attempt envf secs result line why
  start=$EPOCHREALTIME
  if [ "$k" = host ]; then
    release=$(uname -r)
    echo "=== kernel-matrix: host ($release) ==="
    EMP_KERNEL_UNDER_TEST=$release timeout -k 10 "$TIMEOUT" "$@" </dev/null || rc=$?
    attempts=$(printf '{"exit_code":%d,"seconds":%s,"crash":null}' "$rc" \
      "$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')")
  else
    # fetch (or find in the cache) the kernel; the download is not timed
    if bash "$HERE/kernels.sh" "$k" >&2; then
      envf="${EMP_KERNEL_CACHE:-/var/cache/ebpf-map-pressure/kernels}/$k/.emp-kernel.env"
      # sets KREL and PACKAGES (written by kernels.sh)
      # shellcheck disable=SC1090
      . "$envf"
      # shellcheck disable=SC2153
      release=$KREL packages=$PACKAGES
      echo "=== kernel-matrix: $k ($release) ==="
      start=$EPOCHREALTIME
      for attempt in 1 2; do
        rc=0 t0=$EPOCHREALTIME
        # the guest's console (the command's output and the kernel's) is kept to be read
        bash "$HERE/vmrun.sh" -k "$k" -t "$TIMEOUT" "${VMARGS[@]}" -- "$@" | tee "$ATTEMPT_OUT" || rc=$?
        crash=
        if [ "$rc" != 0 ]; then crash=$(guest_crash "$ATTEMPT_OUT"); fi
        [ -z "$crash" ] || crashes=$((crashes + 1))
        attempts="${attempts:+$attempts,}$(printf '{"exit_code":%d,"seconds":%s,"crash":%s}' "$rc" \
          "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')" "$([ -n "$crash" ] && json_str "$crash" || echo null)")"
        [ -n "$crash" ] || break
        if [ "$attempt" = 2 ]; then note="${note%, rerun}, then $crash: not rerun again"; break; fi
        if test_failed "$ATTEMPT_OUT"; then note="$crash after a test failed: not rerun"; break; fi
        echo "=== kernel-matrix: $k: $crash, rerun ==="
        echo "kernel-matrix: $k: the guest's kernel crashed ($crash; the kernel log is above); running the command once more" >&2
        note="$crash, rerun"
      done
      if [ "${note%, rerun}" != "$note" ]; then
        if [ "$rc" = 0 ]; then note="$note: PASS"; else note="$note: FAIL"; fi
      fi
    else
      rc=$?
      echo "kernel-matrix: could not get kernel $k (scripts/kernels.sh $k failed)" >&2
    fi
  fi
  secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  if [ "$rc" = 0 ]; then result=pass; else result=fail; fi
  line=$(printf '%-4s  %-5s  %-24s %6ss' "${result^^}" "$k" "${release:-?}" "$secs")
  why=
  [ "$rc" = 0 ] || why="exit $rc"
  [ -z "$note" ] || why="${why:+$why; }$note"
  [ -z "$why" ] || line="$line  ($why)"
  echo "$line"
  echo "$line" > "$WORK/$k.line"
  printf '{"kernel":%s,"release":%s,"packages":%s,"result":"%s","exit_code":%d,"seconds":%s,"crashes":%d,"note":%s,"attempts":[%s],"command":[%s],"finished_at":"%s"}\n' \
    "$(json_str "$k")" "$(json_str "$release")" "$(json_str "$packages")" "$result" "$rc" "$secs" \
    "$crashes" "$(json_str "$note")" "$attempts" "$CMD_JSON" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$WORK/$k.json"
}

if [ "$JOBS" -eq 1 ]; then
  for k in "${SELECTED[@]}"; do run_kernel "$k" "$@"; done
else
  # Each kernel's output is held until it ends, then printed whole (a block a kernel, so
  # whatever reads the output sees one kernel at a time).
  declare -A PID_KERNEL=()
  flush_one() {
    local done_pid
    wait -n -p done_pid || true
    cat "$WORK/${PID_KERNEL[$done_pid]}.out"
    unset "PID_KERNEL[$done_pid]"
  }
  for k in "${SELECTED[@]}"; do
    while [ "${#PID_KERNEL[@]}" -ge "$JOBS" ]; do flush_one; done
    echo "kernel-matrix: $k started (its output follows when it ends)" >&2
    run_kernel "$k" "$@" > "$WORK/$k.out" 2>&1 &
    PID_KERNEL[$!]=$k
  done
  while [ "${#PID_KERNEL[@]}" -gt 0 ]; do flush_one; done
fi

RESULTS=()
FAILED=0
for k in "${SELECTED[@]}"; do
  if [ -s "$WORK/$k.line" ]; then
    RESULTS+=("$(cat "$WORK/$k.line")")
    cat "$WORK/$k.json" >> "$SUMMARY"
    case "${RESULTS[-1]}" in PASS*) ;; *) FAILED=1 ;; esac
  else
    RESULTS+=("$(printf '%-4s  %-5s  %-24s %6ss  (%s)' FAIL "$k" '?' 0 'no result')")
    FAILED=1
  fi
done

echo "=== kernel-matrix: summary ($SUMMARY) ==="
printf '%s\n' "${RESULTS[@]}"
exit "$FAILED"
