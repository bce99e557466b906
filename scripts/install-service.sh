#!/usr/bin/env bash
# Installs ebpf-map-pressure from this (built) checkout as a systemd service, as root:
#   - the program under PREFIX (default /opt/ebpf-map-pressure): bin/, dist/, the addon and
#     the production dependencies only, owned by root and read-only to everyone else;
#   - /etc/ebpf-map-pressure/config.yaml (the commented example; kept if it exists);
#   - a system user ebpf-map-pressure with no home and no shell;
#   - deploy/systemd/ebpf-map-pressure.service as /etc/systemd/system/, with this machine's
#     node and PREFIX filled in; then enabled and started.
#
# Usage: bash scripts/install-service.sh [--prefix DIR] [--no-start]
#   Build first: bash scripts/install-deps.sh && npm ci && npm run build
#   DESTDIR=/some/root stages the files there instead (for packaging and tests): no user is
#   created and systemctl is not called.
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=/opt/ebpf-map-pressure
start=1
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    --no-start) start=0; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "install-service: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done
case "$prefix" in /*) ;; *) echo "install-service: --prefix must be an absolute path, got $prefix" >&2; exit 2 ;; esac

destdir=${DESTDIR:-}
user=ebpf-map-pressure
if [ -z "$destdir" ] && [ "$(id -u)" -ne 0 ]; then
  echo "install-service: run as root (it installs under $prefix and /etc, and adds a user)" >&2
  exit 1
fi
node=$(command -v node || true)
if [ -z "$node" ] || ! "$node" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
  echo "install-service: Node.js >= 20 must be on PATH (the unit runs it by absolute path)" >&2
  exit 1
fi
node=$(readlink -f "$node")
if [ ! -f build/Release/ebpf_map_pressure.node ] || [ ! -f dist/cli/main.js ]; then
  echo "install-service: not built; run: npm ci && npm run build" >&2
  exit 1
fi

root="$destdir$prefix"
echo "install-service: installing into $root"
rm -rf "$root.new"
install -d -m 0755 "$root.new" "$root.new/build/Release"
cp -R bin dist package.json "$root.new/"
install -m 0755 build/Release/ebpf_map_pressure.node "$root.new/build/Release/"
# Production dependencies only, copied as npm resolved them (no registry needed).
npm ls --omit=dev --all --parseable 2>/dev/null | tail -n +2 | while read -r dir; do
  rel=${dir#"$PWD/"}
  install -d "$root.new/$(dirname "$rel")"
  cp -R "$dir" "$root.new/$rel"
done
chmod -R u=rwX,go=rX "$root.new"
rm -rf "$root"
mv "$root.new" "$root"

etc="$destdir/etc/ebpf-map-pressure"
install -d -m 0755 "$etc"
if [ ! -e "$etc/config.yaml" ]; then
  install -m 0640 config/ebpf-map-pressure.yaml "$etc/config.yaml"
else
  echo "install-service: keeping the existing $etc/config.yaml"
fi

unit_dir="$destdir/etc/systemd/system"
install -d -m 0755 "$unit_dir"
sed -e "s|^ExecStart=/usr/bin/node /opt/ebpf-map-pressure/|ExecStart=$node $prefix/|" \
  deploy/systemd/ebpf-map-pressure.service >"$unit_dir/ebpf-map-pressure.service"
chmod 0644 "$unit_dir/ebpf-map-pressure.service"

if [ -n "$destdir" ]; then
  echo "install-service: staged under $destdir (no user created, systemctl not called)"
  exit 0
fi

if ! id -u "$user" >/dev/null 2>&1; then
  useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$user"
fi
# The config may hold settings the user wants private: readable by the service's group only.
chgrp "$user" "$etc/config.yaml"

if [ ! -d /run/systemd/system ]; then
  echo "install-service: systemd is not running here; start it later with: systemctl enable --now ebpf-map-pressure"
  exit 0
fi
systemctl daemon-reload
if [ "$start" -eq 1 ]; then
  systemctl enable --now ebpf-map-pressure.service
  systemctl --no-pager --lines=5 status ebpf-map-pressure.service || true
else
  echo "install-service: installed; start with: systemctl enable --now ebpf-map-pressure"
fi
