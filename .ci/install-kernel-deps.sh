#!/usr/bin/env bash
# install-kernel-deps.sh - install the Debian packages that the kernel matrix
# (scripts/kernels.sh, scripts/vmrun.sh, scripts/kernel-matrix.sh) needs.
#
# usage: sudo bash .ci/install-kernel-deps.sh
#
# Idempotent and quiet: when everything is already there it does nothing at
# all (not even `apt-get update`).  Debian or Ubuntu with apt-get, as root.
set -euo pipefail

PACKAGES=(
  qemu-system-x86        # qemu-system-x86_64 (TCG)
  qemu-system-data       # qboot.rom, the fast firmware
  busybox-static         # the guest's initramfs
  kmod                   # depmod, for the kernels' modules.dep
  cpio gzip              # packing the initramfs
  xz-utils zstd          # compressed kernels and modules
  debian-archive-keyring # verifying the bullseye/bookworm/sid archives
  coreutils util-linux   # timeout, flock
)

die() { echo "install-kernel-deps: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root: sudo bash $0"
command -v apt-get >/dev/null 2>&1 || die "needs apt-get (Debian or Ubuntu); install by hand: ${PACKAGES[*]}"
export DEBIAN_FRONTEND=noninteractive

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
have_virtiofsd() { [ -x /usr/libexec/virtiofsd ] || [ -x /usr/lib/qemu/virtiofsd ]; }

missing=()
for p in "${PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
if [ ${#missing[@]} -eq 0 ] && have_virtiofsd; then
  exit 0
fi

apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-kernel-deps: installing ${missing[*]}"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# virtiofsd (faster root share than 9p) comes with qemu-system-common up to
# bookworm and is a package of its own from trixie on.  Without it vmrun.sh
# falls back to 9p.
if ! have_virtiofsd; then
  if apt-cache show virtiofsd >/dev/null 2>&1; then
    echo "install-kernel-deps: installing virtiofsd"
    apt-get install -y -qq --no-install-recommends virtiofsd >/dev/null
  else
    echo "install-kernel-deps: no virtiofsd package here; vmrun.sh will share the root over 9p" >&2
  fi
fi
