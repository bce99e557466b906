#!/usr/bin/env bash
# kernels.sh - download and cache the Debian kernels that the kernel matrix
# boots under QEMU (see scripts/vmrun.sh and scripts/kernel-matrix.sh).
#
# usage: scripts/kernels.sh [--cache DIR] [--update] [SERIES...]
#
#   SERIES     one or more of: 5.10 6.1 6.12 7.2   (default: all of them)
#   --cache    cache directory (default: $EMP_KERNEL_CACHE, else
#              /var/cache/ebpf-map-pressure/kernels)
#   --update   ask the archive again and fetch a newer build of a series that
#              is already cached (without it, a cached series is used as is and
#              nothing at all is downloaded)
#
# Where the kernels come from (all amd64, all with BTF):
#   5.10  bullseye       linux-image-amd64
#   6.1   bookworm       linux-image-amd64
#   6.12  bookworm       linux-image-6.12-amd64
#   7.2   sid            linux-image-amd64   (split into linux-binary-*,
#                                             linux-modules-*, linux-base-*)
#
# apt runs with a private configuration (its own sources.list, lists and
# cache under DIR/apt/), so the system's sources are left untouched.  The
# mirror is the one this system already uses, read from its own apt sources
# (override with EMP_DEBIAN_MIRROR / EMP_DEBIAN_SECURITY_MIRROR).  Packages are
# unpacked with `dpkg-deb -x`; nothing is installed and /boot is not touched.
#
# Result, per series:
#   DIR/<series>/                 the unpacked packages (boot/ or usr/lib/...)
#   DIR/<series>/.emp-kernel.env  shell-sourceable: KREL VMLINUZ CONFIG PACKAGES
# and one line per series on stdout: series, kernel release, packages.
#
# Needs: apt-get, dpkg-deb, depmod (kmod), flock.  See .ci/install-kernel-deps.sh.
set -euo pipefail

ALL_SERIES=(5.10 6.1 6.12 7.2)

# series -> "suites|metapackage".  The metapackage depends on the concrete
# linux-image-<release> package, which is what gets downloaded.
declare -A SOURCE=(
  [5.10]="bullseye bullseye-updates bullseye-security|linux-image-amd64"
  [6.1]="bookworm bookworm-updates bookworm-security|linux-image-amd64"
  [6.12]="bookworm bookworm-updates bookworm-security|linux-image-6.12-amd64"
  [7.2]="sid|linux-image-amd64"
)

KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

die() { echo "kernels.sh: $*" >&2; exit 1; }
log() { echo "kernels.sh: $*" >&2; }

CACHE=${EMP_KERNEL_CACHE:-/var/cache/ebpf-map-pressure/kernels}
UPDATE=0
WANT=()
while [ $# -gt 0 ]; do
  case "$1" in
    --cache) [ $# -ge 2 ] || die "--cache needs a directory"; CACHE=$2; shift 2 ;;
    --update) UPDATE=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [ -n "${SOURCE[$1]:-}" ] || die "unknown kernel series '$1' (known: ${ALL_SERIES[*]})"
       WANT+=("$1"); shift ;;
  esac
done
[ ${#WANT[@]} -gt 0 ] || WANT=("${ALL_SERIES[@]}")

for tool in apt-get apt-cache dpkg-deb depmod flock; do
  command -v "$tool" >/dev/null 2>&1 ||
    die "'$tool' not found: run 'sudo bash .ci/install-kernel-deps.sh' (Debian/Ubuntu)"
done
{ mkdir -p "$CACHE" 2>/dev/null && [ -w "$CACHE" ]; } ||
  die "cannot write to the cache directory $CACHE: run as root, or point EMP_KERNEL_CACHE (or --cache) at a writable directory"
CACHE=$(cd "$CACHE" && pwd)

# One kernels.sh at a time per cache directory.
exec 9>"$CACHE/.lock"
flock 9

# --- the private apt --------------------------------------------------------

# Find the Debian archive (and security archive) URLs the system already uses.
MAIN_MIRROR=${EMP_DEBIAN_MIRROR:-}
SEC_MIRROR=${EMP_DEBIAN_SECURITY_MIRROR:-}
find_mirrors() {
  [ -n "$MAIN_MIRROR" ] && [ -n "$SEC_MIRROR" ] && return 0
  local codename uri rel label
  # shellcheck disable=SC1091
  codename=$( (. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}") || true)
  # `apt-get indextargets` reads sources.list and sources.list.d (both formats);
  # the Label is known once the system has run `apt-get update`, the release
  # name always.
  # shellcheck disable=SC2016  # $(...) below are apt's format fields
  while read -r uri rel label; do
    uri=${uri%/}
    case "$label|$rel" in
      Debian-Security\|*|*\|"$codename"-security)
        [ -n "$SEC_MIRROR" ] || SEC_MIRROR=$uri ;;
      Debian\|*|*\|"$codename")
        [ -n "$MAIN_MIRROR" ] || MAIN_MIRROR=$uri ;;
    esac
  done < <(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(LABEL)' 'Identifier: Packages' 2>/dev/null || true)
  [ -n "$MAIN_MIRROR" ] || die "could not find a Debian archive in this system's apt sources (/etc/apt/sources.list, /etc/apt/sources.list.d/); set EMP_DEBIAN_MIRROR, e.g. EMP_DEBIAN_MIRROR=http://<your-mirror>/debian"
  if [ -z "$SEC_MIRROR" ]; then
    # The security archive normally sits next to the main one.
    SEC_MIRROR="${MAIN_MIRROR%/debian}/debian-security"
    log "no security archive in the system's sources; assuming $SEC_MIRROR (set EMP_DEBIAN_SECURITY_MIRROR to change)"
  fi
}

# apt options for one private "realm" (a set of suites with its own lists).
# shellcheck source=lib/private-apt.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/private-apt.sh"
APT_OPTS=()
apt_realm() {
  local suites=$1 dir
  dir="$CACHE/apt/${suites%% *}"
  private_apt_opts "$dir"
  REALM_DIR=$dir
  [ -f "$dir/sources.list" ] && return 0
  find_mirrors
  [ -r "$KEYRING" ] || die "Debian archive keyring $KEYRING missing: apt-get install debian-archive-keyring"
  local s uri
  for s in $suites; do
    case $s in *-security) uri=$SEC_MIRROR ;; *) uri=$MAIN_MIRROR ;; esac
    echo "deb [signed-by=$KEYRING] $uri $s main"
  done > "$dir/sources.list.tmp"
  mv "$dir/sources.list.tmp" "$dir/sources.list"
}

declare -A REALM_UPDATED=()
apt_update_realm() {
  [ -n "${REALM_UPDATED[$REALM_DIR]:-}" ] && return 0
  log "apt-get update ($(awk '{print $4}' "$REALM_DIR/sources.list" | paste -sd' '))"
  local out
  if ! out=$(apt-get "${APT_OPTS[@]}" -q update 2>&1); then
    echo "$out" >&2; die "apt-get update failed for $REALM_DIR/sources.list"
  fi
  # apt-get update exits 0 even when one source failed; surface that.
  if grep -E '^(W|E|Err):' <<<"$out" | grep -v 'Target .* is configured multiple' >&2; then
    grep -q '^E:\|^Err:' <<<"$out" && die "apt-get update reported errors (above)"
  fi
  REALM_UPDATED[$REALM_DIR]=1
}

# candidate "Field:" of a package in the current realm
pkg_field() { apt-cache "${APT_OPTS[@]}" show --no-all-versions "$1" 2>/dev/null | sed -n "s/^$2: //p" | head -1; }

# --- per series -------------------------------------------------------------

# Resolve a series to the packages to download: sets PKGS="name=version ...".
# (Not run in a subshell, so the realm's apt options stay set for fetch.)
resolve() {
  local series=$1 suites meta img kver dep
  suites=${SOURCE[$series]%%|*}; meta=${SOURCE[$series]#*|}
  apt_realm "$suites"
  apt_update_realm
  img=$(pkg_field "$meta" Depends | tr ',' '\n' | grep -oE 'linux-image-[^ ]+' | head -1 || true)
  [ -n "$img" ] || die "$meta not found in $suites (see $REALM_DIR/sources.list)"
  kver=${img#linux-image-}
  case $kver in
    "$series".*) ;;
    *) die "$suites's $meta now points to $img, not a $series kernel; update the SOURCE table in $0" ;;
  esac
  # 7.x packages are split: linux-image-<kver> is a metapackage depending on
  # linux-binary-<kver> (vmlinuz), linux-modules-<kver>, linux-base-<kver>.
  PKGS="$img=$(pkg_field "$img" Version)"
  for dep in $(pkg_field "$img" Depends | sed 's/[,|]/\n/g' | awk '{print $1}' |
               grep -E "^linux-(binary|modules|base)-${kver//+/\\+}\$" || true); do
    PKGS="$PKGS $dep=$(pkg_field "$dep" Version)"
  done
}

# Locate vmlinuz and config inside an unpacked kernel; prints "KREL VMLINUZ CONFIG"
# with paths relative to the root.
locate_kernel() {
  local root=$1 f
  for f in "$root"/boot/vmlinuz-*; do              # classic layout (<= trixie)
    [ -f "$f" ] || continue
    local k=${f##*/vmlinuz-}
    echo "$k boot/vmlinuz-$k boot/config-$k"; return 0
  done
  for f in "$root"/usr/lib/modules/*/vmlinuz; do   # 7.x layout
    [ -f "$f" ] || continue
    local k; k=$(basename "$(dirname "$f")")
    echo "$k usr/lib/modules/$k/vmlinuz usr/lib/modules/$k/config"; return 0
  done
  return 1
}

# Download, unpack and check one series into DIR/<series>/.
fetch() {
  local series=$1 pkgs=$2 tmp dl krel vmlinuz config p
  tmp="$CACHE/.$series.tmp"
  rm -rf "$tmp"; mkdir -p "$tmp/debs" "$tmp/root"
  log "downloading $series: $pkgs"
  # shellcheck disable=SC2086  # $pkgs is a list of name=version words
  if ! dl=$(cd "$tmp/debs" && apt-get "${APT_OPTS[@]}" -q download $pkgs 2>&1); then
    echo "$dl" >&2; die "apt-get download failed for $series"
  fi
  for p in "$tmp"/debs/*.deb; do dpkg-deb -x "$p" "$tmp/root"; done
  rm -rf "$tmp/debs"
  read -r krel vmlinuz config < <(locate_kernel "$tmp/root") ||
    die "no vmlinuz in the packages for $series ($pkgs)"
  grep -q '^CONFIG_DEBUG_INFO_BTF=y' "$tmp/root/$config" ||
    die "$series ($krel) was built without BTF (CONFIG_DEBUG_INFO_BTF), the project cannot use it"
  grep -q '^CONFIG_X86_64=y' "$tmp/root/$config" || die "$series ($krel) is not an amd64 kernel"
  # The packages ship no modules.dep (dpkg's postinst makes it); depmod -b
  # wants BASE/lib/modules, which 7.x ships under usr/lib/modules.
  [ -e "$tmp/root/lib" ] || ln -s usr/lib "$tmp/root/lib"
  depmod -b "$tmp/root" "$krel"
  {
    printf 'KREL=%q\nVMLINUZ=%q\nCONFIG=%q\nPACKAGES=%q\n' "$krel" "$vmlinuz" "$config" "$pkgs"
  } > "$tmp/root/.emp-kernel.env"
  rm -rf "${CACHE:?}/$series"
  mv "$tmp/root" "$CACHE/$series"
  rm -rf "$tmp"
}

# shellcheck disable=SC1090,SC2153  # .emp-kernel.env is written by fetch above
for series in "${WANT[@]}"; do
  envf="$CACHE/$series/.emp-kernel.env"
  state=cached
  if [ ! -f "$envf" ] || [ "$UPDATE" = 1 ]; then
    resolve "$series"
    if [ -f "$envf" ] && [ "$(. "$envf" && echo "$PACKAGES")" = "$PKGS" ]; then
      state="up to date"
    else
      fetch "$series" "$PKGS"
      state=downloaded
    fi
  fi
  # shellcheck disable=SC1090
  (. "$envf" && printf '%-5s %-22s %s  (%s)\n' "$series" "$KREL" "$PACKAGES" "$state")
done
