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
#   -m MEM           guest memory (default 2G), passed to vmrun.sh
#   -t SECONDS       per-kernel time limit (default 3600), also on the host
#   -w DIR           directory writable from the guests (test output, coverage);
#                    repeatable, passed to vmrun.sh
#   -e VAR[=VALUE]   environment for the guests, passed to vmrun.sh; repeatable
#   CMD              default: npx tap --disable-coverage test/kernel
#
# The command runs as root in the current directory, with EMP_KERNEL_UNDER_TEST
# set to the kernel release (`uname -r`) it runs on.  Kernels run one after the
# other (guests are emulated: two host cores are better spent on one guest).
# Emulation is slow: booting takes seconds, but the kernel suite takes minutes
# per guest (measured on a busy 2-core host: ~5 min on 6.12, ~21 min on 5.10).
#
# Prints a line per kernel as it finishes and a table at the end:
#   PASS  6.1    6.1.0-56-amd64          4.9s
# Each summary line holds: kernel, release, packages, result (pass|fail),
# exit_code, seconds, command, finished_at.
# Exit status: 0 if every kernel passed, 1 if any failed, 2 on a usage error.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ALL=(5.10 6.1 6.12 7.2 host)

die() { echo "kernel-matrix: $*" >&2; exit 2; }

KERNELS=$(IFS=,; echo "${ALL[*]}")
SUMMARY=kernel-matrix.jsonl
TIMEOUT=${EMP_VM_TIMEOUT:-3600}
VMARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --kernels) KERNELS=${2:?--kernels needs a list}; shift 2 ;;
    --kernels=*) KERNELS=${1#*=}; shift ;;
    --summary) SUMMARY=${2:?--summary needs a file}; shift 2 ;;
    --summary=*) SUMMARY=${1#*=}; shift ;;
    -m|-w|-e) VMARGS+=("$1" "${2:?$1 needs a value}"); shift 2 ;;
    -t) TIMEOUT=${2:?-t needs seconds}; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    --) shift; break ;;
    *) die "unknown option '$1' (the command goes after --; see --help)" ;;
  esac
done
[ $# -gt 0 ] || set -- npx tap --disable-coverage test/kernel

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

RESULTS=()
FAILED=0
for k in "${SELECTED[@]}"; do
  release='' packages='' rc=0
  start=$EPOCHREALTIME
  if [ "$k" = host ]; then
    release=$(uname -r)
    echo "=== kernel-matrix: host ($release) ==="
    EMP_KERNEL_UNDER_TEST=$release timeout -k 10 "$TIMEOUT" "$@" </dev/null || rc=$?
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
      bash "$HERE/vmrun.sh" -k "$k" -t "$TIMEOUT" "${VMARGS[@]}" -- "$@" || rc=$?
    else
      rc=$?
      echo "kernel-matrix: could not get kernel $k (scripts/kernels.sh $k failed)" >&2
    fi
  fi
  secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  if [ "$rc" = 0 ]; then result=pass; else result=fail; FAILED=1; fi
  line=$(printf '%-4s  %-5s  %-24s %6ss' "${result^^}" "$k" "${release:-?}" "$secs")
  [ "$rc" = 0 ] || line="$line  (exit $rc)"
  echo "$line"
  RESULTS+=("$line")
  printf '{"kernel":%s,"release":%s,"packages":%s,"result":"%s","exit_code":%d,"seconds":%s,"command":[%s],"finished_at":"%s"}\n' \
    "$(json_str "$k")" "$(json_str "$release")" "$(json_str "$packages")" "$result" "$rc" "$secs" \
    "$CMD_JSON" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >> "$SUMMARY"
done

echo "=== kernel-matrix: summary ($SUMMARY) ==="
printf '%s\n' "${RESULTS[@]}"
exit "$FAILED"
