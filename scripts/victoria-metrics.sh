#!/usr/bin/env bash
# victoria-metrics.sh - download and cache Debian's VictoriaMetrics, the real OTLP backend
# of test/deploy/victoria-metrics.test.ts.
#
# usage: scripts/victoria-metrics.sh [--cache DIR] [--update]
#
#   --cache    cache directory (default: $EMP_VICTORIA_METRICS_CACHE, else
#              /var/cache/ebpf-map-pressure/victoria-metrics)
#   --update   ask the archive again and fetch a newer build (without it, a cached copy is
#              used as is and nothing at all is downloaded)
#
# Where it comes from: trixie's `victoria-metrics` (amd64). Bookworm's (1.79) predates OTLP
# ingestion; 1.112 takes OTLP/HTTP protobuf at /opentelemetry/v1/metrics and, with
# -opentelemetry.usePrometheusNaming, stores the names the Prometheus exporters write.
#
# As scripts/kernels.sh does: apt runs with a private configuration (its own sources.list,
# lists and cache under DIR/apt/), so the system's sources are left untouched; the mirror is
# the one this system already uses (override with EMP_DEBIAN_MIRROR). The package is unpacked
# with `dpkg-deb -x`, nothing is installed, and only the server binary is kept.
#
# Result: DIR/<version>/victoria-metrics, DIR/victoria-metrics.env (shell-sourceable: VERSION
# BIN), and the binary's path as the one line on stdout.
#
# Needs: apt-get, apt-cache, dpkg-deb, flock; the Debian archive keyring.
set -euo pipefail

SUITES="trixie trixie-updates"
PACKAGE=victoria-metrics
# The first upstream release known to ingest OTLP with Prometheus naming as this project needs.
MIN_VERSION=1.112.0
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

die() { echo "victoria-metrics.sh: $*" >&2; exit 1; }
log() { echo "victoria-metrics.sh: $*" >&2; }

CACHE=${EMP_VICTORIA_METRICS_CACHE:-/var/cache/ebpf-map-pressure/victoria-metrics}
UPDATE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --cache) [ $# -ge 2 ] || die "--cache needs a directory"; CACHE=$2; shift 2 ;;
    --update) UPDATE=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done

for tool in apt-get apt-cache dpkg-deb flock; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found (Debian/Ubuntu: apt-get install apt dpkg util-linux)"
done
{ mkdir -p "$CACHE" 2>/dev/null && [ -w "$CACHE" ]; } ||
  die "cannot write to the cache directory $CACHE: run as root, or point EMP_VICTORIA_METRICS_CACHE (or --cache) at a writable directory"
CACHE=$(cd "$CACHE" && pwd)
ENVF="$CACHE/victoria-metrics.env"

# One victoria-metrics.sh at a time per cache directory (parallel test files may ask at once).
exec 9>"$CACHE/.lock"
flock 9

# shellcheck disable=SC1090
if [ "$UPDATE" = 0 ] && [ -f "$ENVF" ] && (. "$ENVF" && [ -x "$BIN" ]); then
  (. "$ENVF" && echo "$BIN")
  exit 0
fi

# --- the private apt ----------------------------------------------------------

# The Debian archive the system already uses (apt-get indextargets reads both source formats).
mirror() {
  [ -n "${EMP_DEBIAN_MIRROR:-}" ] && { echo "${EMP_DEBIAN_MIRROR%/}"; return 0; }
  local uri rel label
  # shellcheck disable=SC2016  # $(...) below are apt's format fields
  while read -r uri rel label; do
    case "$label|$rel" in
      *-security*|*Security*) ;;
      Debian\|*) echo "${uri%/}"; return 0 ;;
    esac
  done < <(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(LABEL)' 'Identifier: Packages' 2>/dev/null || true)
  return 1
}

dir="$CACHE/apt"
# shellcheck source=lib/private-apt.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/private-apt.sh"
private_apt_opts "$dir"
if [ ! -f "$dir/sources.list" ]; then
  [ -r "$KEYRING" ] || die "Debian archive keyring $KEYRING missing: apt-get install debian-archive-keyring"
  uri=$(mirror) || die "could not find a Debian archive in this system's apt sources; set EMP_DEBIAN_MIRROR, e.g. EMP_DEBIAN_MIRROR=http://deb.debian.org/debian"
  for s in $SUITES; do echo "deb [signed-by=$KEYRING] $uri $s main"; done > "$dir/sources.list.tmp"
  mv "$dir/sources.list.tmp" "$dir/sources.list"
fi

log "apt-get update ($SUITES)"
if ! out=$(apt-get "${APT_OPTS[@]}" -q update 2>&1); then
  echo "$out" >&2; die "apt-get update failed for $dir/sources.list"
fi
# apt-get update exits 0 even when a source failed; surface that.
if grep -E '^(W|E|Err):' <<<"$out" >&2; then
  grep -q '^E:\|^Err:' <<<"$out" && die "apt-get update reported errors (above)"
fi

version=$(apt-cache "${APT_OPTS[@]}" show --no-all-versions "$PACKAGE" 2>/dev/null | sed -n 's/^Version: //p' | head -1)
[ -n "$version" ] || die "$PACKAGE not found in $SUITES (see $dir/sources.list)"
dpkg --compare-versions "$version" ge "$MIN_VERSION" ||
  die "$SUITES has $PACKAGE $version, older than $MIN_VERSION (no OTLP ingestion with Prometheus naming)"

# shellcheck disable=SC1090
if [ -f "$ENVF" ] && [ "$(. "$ENVF" && echo "$VERSION")" = "$version" ] && (. "$ENVF" && [ -x "$BIN" ]); then
  log "$PACKAGE $version: up to date"
  (. "$ENVF" && echo "$BIN")
  exit 0
fi

# --- download, unpack, keep the server ----------------------------------------

tmp="$CACHE/.download.tmp"
rm -rf "$tmp"; mkdir -p "$tmp/debs" "$tmp/root"
log "downloading $PACKAGE=$version"
if ! dl=$(cd "$tmp/debs" && apt-get "${APT_OPTS[@]}" -q download "$PACKAGE=$version" 2>&1); then
  echo "$dl" >&2; die "apt-get download of $PACKAGE=$version failed"
fi
dpkg-deb -x "$tmp"/debs/*.deb "$tmp/root"
[ -x "$tmp/root/usr/bin/victoria-metrics" ] || die "no usr/bin/victoria-metrics in $PACKAGE $version"
dest="$CACHE/$version"
rm -rf "$dest"; mkdir -p "$dest"
mv "$tmp/root/usr/bin/victoria-metrics" "$dest/victoria-metrics"
cp "$tmp/root/usr/share/doc/victoria-metrics/copyright" "$dest/copyright"
rm -rf "$tmp"
# It must run here: its libraries are the host's (trixie's build asks for libzstd >= 1.5.5).
"$dest/victoria-metrics" -version >/dev/null 2>&1 ||
  die "$dest/victoria-metrics does not run on this system: $("$dest/victoria-metrics" -version 2>&1 | head -3)"
printf 'VERSION=%q\nBIN=%q\n' "$version" "$dest/victoria-metrics" > "$ENVF.tmp"
mv "$ENVF.tmp" "$ENVF"
log "$PACKAGE $version cached in $dest"
echo "$dest/victoria-metrics"
