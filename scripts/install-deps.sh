#!/usr/bin/env bash
# Installs what building and running ebpf-map-pressure needs on Debian/Ubuntu, as root:
# clang and bpftool (to build the BPF object and its skeleton), libbpf-dev, pkg-config and
# a C++ toolchain (the addon), and mounts bpffs and tracefs if they are missing.
# Idempotent: a second run installs nothing. Usage: bash scripts/install-deps.sh [extra packages]
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: run as root (it installs packages and mounts bpffs)" >&2
  exit 1
fi

want=(clang llvm libbpf-dev libelf-dev zlib1g-dev pkg-config make g++ python3 "$@")
if ! command -v bpftool >/dev/null 2>&1; then
  # Debian ships bpftool as its own package; Ubuntu ships it in linux-tools.
  if apt-cache show bpftool >/dev/null 2>&1 || [ ! -d /var/lib/apt/lists ] || [ -z "$(ls /var/lib/apt/lists 2>/dev/null)" ]; then
    want+=(bpftool)
  else
    want+=(linux-tools-common "linux-tools-$(uname -r)")
  fi
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v node >/dev/null 2>&1; then
  echo "install-deps: Node.js 20 is required (https://nodejs.org or your distribution's nodejs package)" >&2
  exit 1
fi

mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true
