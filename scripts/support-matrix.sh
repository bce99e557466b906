#!/usr/bin/env bash
# support-matrix.sh - the README's "Support matrix": runs the kernel-facing test suite on
# every kernel of the matrix (scripts/kernel-matrix.sh, which boots each under QEMU), where
# test/kernel/types.test.ts records how it saw every map type counted, and prints the table
# kernel x map type x method. With --readme, also writes it into README.md between the
# support-matrix markers.
#
# usage: scripts/support-matrix.sh [--readme] [kernel-matrix.sh options] [-- CMD...]
#   default CMD: the kernel matrix's (npx tap --disable-coverage test/kernel)
#
# A cell is the count_method the agent reported after the test filled a map of that type
# to a known level and found the figure exact; "n/a" where the kernel lacks the type, and a
# trailing "!" where the figure was not exact (the suite then fails too).
# Exit status: kernel-matrix.sh's (0 only if the suite passed on every kernel).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$HERE/.."

README=
if [ "${1:-}" = --readme ]; then README=README.md; shift; fi

OUT=$(mktemp -d "${TMPDIR:-/tmp}/support-matrix.XXXXXX")
trap 'rm -rf "$OUT"' EXIT
chmod 755 "$OUT"

# The tests append their cells here; vmrun.sh hands every EMP_* variable to the guests and
# -w makes the directory writable from them.
export EMP_SUPPORT_OUT=$OUT/support.jsonl
rc=0
bash "$HERE/kernel-matrix.sh" --summary "$OUT/matrix.jsonl" -w "$OUT" "$@" || rc=$?
node --import tsx "$HERE/support-table.ts" "$OUT/support.jsonl" "$OUT/matrix.jsonl" \
  ${README:+--readme "$README"}
exit "$rc"
