#!/usr/bin/env bash
# vmrun.sh - run one command inside another Linux kernel, under QEMU, and exit
# with the command's exit code.
#
# The guest sees the host's whole root filesystem, read-only (virtiofs when
# run as root, else virtio-9p) with a tmpfs overlay on top, so every tool
# of the host (node, npx, bpftool, the repo itself) works unchanged; its writes
# land in guest RAM and vanish, except in directories given with -w.  The
# command runs as root in the same working directory, with bpffs at
# /sys/fs/bpf, tracefs at /sys/kernel/tracing, debugfs at /sys/kernel/debug
# and cgroup2 at /sys/fs/cgroup mounted, and EMP_KERNEL_UNDER_TEST set to the
# guest's `uname -r`.
#
# usage: scripts/vmrun.sh -k KERNEL [options] -- CMD [ARGS...]
#
#   -k KERNEL   a series cached by scripts/kernels.sh (5.10, 6.1, 6.12, 7.2), or
#               a directory holding an unpacked Debian kernel package
#               (boot/vmlinuz-* or usr/lib/modules/*/vmlinuz, plus modules)
#   -m MEM      guest memory (default $EMP_VM_MEM or 2G); guest writes use it
#   -c CPUS     guest CPUs (default $EMP_VM_CPUS or 2)
#   -T THREADS  how TCG runs the guest CPUs: multi (a host thread each; the
#               default, or $EMP_VM_TCG_THREAD), which can lock a guest up when
#               its kernel patches its own text (see below and the README), or
#               single (one host thread takes turns at them: no lockup measured,
#               but the kernel suite runs ~3x slower, too slow for CI's 90 min)
#   -t SECONDS  kill QEMU after this long (default $EMP_VM_TIMEOUT or 3600)
#   -w DIR      make the host directory DIR writable (write-through) in the
#               guest at the same path, e.g. for test output; repeatable
#   -e VAR[=VALUE]  pass an environment variable into the guest; repeatable
#   -f FS       root share: auto (default: virtiofs as root, else 9p), 9p or
#               virtiofs
#   -v          show the guest kernel's boot messages
#
# Exit status: the command's; 124 if the timeout fired; 125 if the guest never
# ran the command (boot or mount failure; rerun with -v); 2 on a usage error.
#
# The guest holds two probes on the sys_enter tracepoint from boot, so that no
# syscall tracepoint attach patches kernel text (the soft lockup, README);
# EMP_VM_HOLD_SYS_ENTER=0 leaves it alone.
#
# The guest gets PATH, HOME, LANG, CI, every EMP_* variable and the -e ones;
# its RLIMIT_MEMLOCK and RLIMIT_NOFILE are set to the caller's.
#
# Acceleration is software-only (TCG): /dev/kvm on these machines is a nested
# shim that hangs Debian kernels.  Boot to the command takes a few seconds.
# By default each guest CPU has a host thread (-T multi), for speed. With a thread
# each (multi-threaded TCG) a guest CPU can keep executing a stale translation of
# kernel text that the other one has just patched - the int3 that text_poke_bp
# plants while a static key flips (the syscall tracepoint's, when a test
# attaches its BPF program) - and take that int3 forever: a soft lockup
# (scripts/guest-lockup-repro.js shows it in about a minute; README, "Support
# matrix", has the figures). -T single avoids it, at about a third of the
# speed; kernel-matrix.sh reruns a guest once after a lockup instead.
#
# Needs: qemu-system-x86_64 (qemu-system-x86), a static busybox
# (busybox-static), depmod (kmod), cpio, xz, zstd, timeout.
# See .ci/install-kernel-deps.sh.
set -euo pipefail

die() { echo "vmrun: $*" >&2; exit 2; }
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

KERNEL=
MEM=${EMP_VM_MEM:-2G}
CPUS=${EMP_VM_CPUS:-2}
TCG_THREAD=${EMP_VM_TCG_THREAD:-multi}
TIMEOUT=${EMP_VM_TIMEOUT:-3600}
FS=auto
VERBOSE=0
RWDIRS=()
PASSENV=()
while [ $# -gt 0 ]; do
  case "$1" in
    -k) KERNEL=${2:?}; shift 2 ;;
    -m) MEM=${2:?}; shift 2 ;;
    -c) CPUS=${2:?}; shift 2 ;;
    -T) TCG_THREAD=${2:?}; shift 2 ;;
    -t) TIMEOUT=${2:?}; shift 2 ;;
    -w) [ -d "${2:?}" ] || die "-w $2: no such directory"
        RWDIRS+=("$(cd "$2" && pwd -P)"); shift 2 ;;
    -e) PASSENV+=("${2:?}"); shift 2 ;;
    -f) FS=${2:?}; shift 2 ;;
    -v) VERBOSE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    *) die "unknown option '$1' (the command goes after --; see --help)" ;;
  esac
done
[ $# -gt 0 ] || { usage >&2; exit 2; }
[ -n "$KERNEL" ] || die "-k KERNEL is required (e.g. -k 6.1 after scripts/kernels.sh 6.1)"
case $FS in auto|9p|virtiofs) ;; *) die "-f must be auto, 9p or virtiofs" ;; esac
case $TCG_THREAD in single|multi) ;; *) die "-T (EMP_VM_TCG_THREAD) must be single or multi" ;; esac

for tool in qemu-system-x86_64 timeout cpio gzip xz zstd depmod sha256sum; do
  command -v "$tool" >/dev/null 2>&1 ||
    die "'$tool' not found: run 'sudo bash .ci/install-kernel-deps.sh'"
done
BUSYBOX=${EMP_BUSYBOX:-/bin/busybox}
# (ldd fails on a static binary)
if [ ! -x "$BUSYBOX" ] || LC_ALL=C ldd "$BUSYBOX" >/dev/null 2>&1; then
  die "need a statically linked busybox at $BUSYBOX: apt-get install busybox-static"
fi
QBOOT=/usr/share/qemu/qboot.rom
[ -f "$QBOOT" ] || die "$QBOOT missing: apt-get install qemu-system-data"

# --- 1. the kernel ----------------------------------------------------------
if [ ! -d "$KERNEL" ]; then
  cached="${EMP_KERNEL_CACHE:-/var/cache/ebpf-map-pressure/kernels}/$KERNEL"
  [ -d "$cached" ] || die "kernel '$KERNEL' is neither a directory nor cached as $cached: run 'scripts/kernels.sh $KERNEL'"
  KERNEL=$cached
fi
KROOT=$(cd "$KERNEL" && pwd -P)
if [ -f "$KROOT/.emp-kernel.env" ]; then
  # written by scripts/kernels.sh
  # shellcheck disable=SC1091
  . "$KROOT/.emp-kernel.env"
else
  VMLINUZ=$(cd "$KROOT" && for f in boot/vmlinuz-* usr/lib/modules/*/vmlinuz; do
              if [ -f "$f" ]; then echo "$f"; break; fi; done)
  [ -n "$VMLINUZ" ] || die "no boot/vmlinuz-* or usr/lib/modules/*/vmlinuz under $KROOT"
  case $VMLINUZ in
    boot/*) KREL=${VMLINUZ#boot/vmlinuz-}; CONFIG=boot/config-$KREL ;;
    *) KREL=$(basename "$(dirname "$VMLINUZ")"); CONFIG=usr/lib/modules/$KREL/config ;;
  esac
fi
CONFIG=$KROOT/$CONFIG
VMLINUZ=$KROOT/$VMLINUZ
[ -f "$CONFIG" ] || die "kernel config $CONFIG missing"
[ -e "$KROOT/lib" ] || ln -s usr/lib "$KROOT/lib"     # depmod -b wants BASE/lib/modules
MODDIR=$KROOT/lib/modules/$KREL
[ -f "$MODDIR/modules.dep" ] || depmod -b "$KROOT" "$KREL"

# Generated files (uncompressed kernel, initramfs) are cached with the kernel.
ART=${EMP_VMRUN_CACHE:-$KROOT/.vmrun}
if ! mkdir -p "$ART" 2>/dev/null || [ ! -w "$ART" ]; then
  die "cannot write to $ART: run as root or set EMP_VMRUN_CACHE to a writable directory"
fi

# Boot the uncompressed ELF vmlinux through its PVH entry point when the kernel
# has one: it skips the firmware's real-mode setup and the decompressor, both
# slow under TCG (~2 s to init instead of ~5 s).
extract_vmlinux() {  # like linux/scripts/extract-vmlinux: find the payload in the bzImage
  local in=$1 out=$2 magic cmd off
  for magic in '\xfd\x37\x7a\x58\x5a\x00:xz -dc' '\x28\xb5\x2f\xfd:zstd -dcq' \
               '\x1f\x8b\x08:gzip -dc' '\x02\x21\x4c\x18:lz4 -dc'; do
    cmd=${magic#*:}
    command -v "${cmd%% *}" >/dev/null 2>&1 || continue
    # shellcheck disable=SC2013  # byte offsets, one number per line
    for off in $(LC_ALL=C grep -obUaP "${magic%%:*}" "$in" | cut -d: -f1); do
      tail -c +$((off + 1)) "$in" | $cmd > "$out.tmp.$$" 2>/dev/null || true
      if [ "$(head -c 4 "$out.tmp.$$" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; then
        mv "$out.tmp.$$" "$out"; return 0
      fi
    done
  done
  rm -f "$out.tmp.$$"; return 1
}
BOOTIMG=$VMLINUZ
if grep -q '^CONFIG_PVH=y' "$CONFIG"; then
  if [ -s "$ART/vmlinux" ] || extract_vmlinux "$VMLINUZ" "$ART/vmlinux"; then
    BOOTIMG=$ART/vmlinux
  fi
fi

# The root share.  virtiofs is preferred: reading through it is much faster
# (measured: `npx tap --version` 15 s on 5.10 with virtiofs, 52 s with 9p,
# whose 5.10 client reads one page per request); it needs root, for the
# virtiofsd daemons.  9p needs nothing on the host but QEMU.
VIRTIOFSD=${EMP_VIRTIOFSD:-}
for f in /usr/libexec/virtiofsd /usr/lib/qemu/virtiofsd; do
  if [ -z "$VIRTIOFSD" ] && [ -x "$f" ]; then VIRTIOFSD=$f; fi
done
if [ "$FS" = auto ]; then
  if [ "$(id -u)" = 0 ] && [ -n "$VIRTIOFSD" ] && grep -q '^CONFIG_VIRTIO_FS=[ym]' "$CONFIG"; then
    FS=virtiofs
  elif grep -q '^CONFIG_9P_FS=[ym]' "$CONFIG"; then
    FS=9p
  else
    die "$KREL has no 9p, and virtiofs needs root and virtiofsd (apt-get install virtiofsd, or qemu-system-common on bookworm)"
  fi
fi

# --- 2. the initramfs: busybox, the modules to reach the root share, /init ---
# /init runs in the guest as PID 1.  Run-specific input comes through the
# "vmctl" share (the host's per-run directory): env.sh, cmd.sh, rwdirs; the
# command's exit status goes back through it as "rc".
IFS= read -r -d '' INIT <<'EOF' || true
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
say() { echo "vmrun(guest): $*"; }
halt() { sync; echo 0 > /proc/sys/kernel/printk; poweroff -f; }   # no "reboot: Power down"
for m in $(cat /modules/order); do insmod "/modules/$m" || say "insmod $m failed"; done

FS=$(sed -n 's/.*emp\.fs=\([a-z0-9]*\).*/\1/p' /proc/cmdline)
share() {  # share TAG DIR [OPTIONS]
  if [ "$FS" = 9p ]; then
    mount -t 9p -o "trans=virtio,version=9p2000.L,msize=512000${3:+,$3}" "$1" "$2"
  else
    mount -t virtiofs ${3:+-o "$3"} "$1" "$2"
  fi
}
mkdir -p /ctl /host /rw /newroot
share vmctl /ctl || { say "cannot mount the control share"; halt; }
# host root, read-only; 9p's cache=loose is safe because nothing changes it from here
if [ "$FS" = 9p ]; then share hostroot /host ro,cache=loose; else share hostroot /host ro; fi ||
  { say "cannot mount the host's root ($FS)"; halt; }

# a writable root: overlayfs with the host root below and RAM above
mount -t tmpfs -o mode=0755 rw /rw && mkdir -p /rw/upper /rw/work
R=/newroot
if ! mount -t overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work,index=off,xino=off overlay $R; then
  say "overlayfs failed: the root stays read-only, with tmpfs on /tmp /var/tmp"
  mount --bind /host $R
  mount -t tmpfs tmpfs $R/tmp; mount -t tmpfs tmpfs $R/var/tmp
fi
mount -t proc proc $R/proc
mount -t sysfs sysfs $R/sys
mount -t devtmpfs devtmpfs $R/dev
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts $R/dev/pts
mount -t tmpfs -o mode=1777 shm $R/dev/shm
mount -t tmpfs -o mode=0755 run $R/run
mount -t bpf -o mode=0700 bpf $R/sys/fs/bpf || say "cannot mount bpffs"
mount -t tracefs tracefs $R/sys/kernel/tracing || say "cannot mount tracefs"
mount -t debugfs debugfs $R/sys/kernel/debug || say "cannot mount debugfs"
mount -t cgroup2 cgroup2 $R/sys/fs/cgroup 2>/dev/null || true

# this kernel's own modules, so modprobe works in the guest
KREL=$(uname -r)
KMODS=$(cat /ctl/kmods)
if [ -d "$R$KMODS" ] && mkdir -p "$R/lib/modules/$KREL" 2>/dev/null; then
  mount --bind "$R$KMODS" "$R/lib/modules/$KREL"
fi

# the -w directories, write-through to the host
while read -r tag dir; do
  [ -n "$tag" ] || continue
  mkdir -p "$R$dir" && share "$tag" "$R$dir" || say "cannot mount $dir read-write"
done < /ctl/rwdirs

ip link set lo up 2>/dev/null
stty -F /dev/console -onlcr 2>/dev/null   # no CR before LF on the host's side
chroot $R /usr/bin/env -i /bin/bash "$(cat /ctl/dir)/cmd.sh" \
  </dev/null >/dev/console 2>&1
echo $? > /ctl/rc
halt
EOF

# Per-run scratch: RUN/ctl is shared with the guest, RUN/*.sock are the
# virtiofsd sockets, RUN/initrd a new initramfs being built.
RUN=$(mktemp -d "${TMPDIR:-/tmp}/vmrun.XXXXXX")
CTL=$RUN/ctl
mkdir "$CTL"
QEMU_PID=
VFSD_PIDS=()
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  set +e
  if [ -n "$QEMU_PID" ]; then kill "$QEMU_PID" 2>/dev/null; wait "$QEMU_PID" 2>/dev/null; fi
  # the daemons go after QEMU, so that it does not complain about them
  if [ ${#VFSD_PIDS[@]} -gt 0 ]; then kill "${VFSD_PIDS[@]}" 2>/dev/null; wait "${VFSD_PIDS[@]}" 2>/dev/null; fi
  rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

want="virtio_pci overlay"
if [ "$FS" = 9p ]; then want="$want 9pnet_virtio 9p"; else want="$want virtiofs"; fi
# modules in load order, dependencies first, from modules.dep
declare -A SEEN=()
ORDER=()
add_module() {
  local line path dep
  line=$(grep -E "(^|/)$1\.ko(\.xz|\.zst|\.gz)?:" "$MODDIR/modules.dep" || true)
  [ -n "$line" ] || return 0      # built in (=y): nothing to load
  path=${line%%:*}
  [ -n "${SEEN[$path]:-}" ] && return 0
  for dep in ${line#*:}; do
    dep=$(basename "$dep"); add_module "${dep%%.ko*}"
  done
  SEEN[$path]=1; ORDER+=("$path")
}
for m in $want; do add_module "$m"; done

INITRD=$ART/initrd-$FS-$( { echo "$INIT"; echo "${ORDER[*]}"; sha256sum "$BUSYBOX"; } | sha256sum | cut -c1-16).cpio.gz
if [ ! -s "$INITRD" ]; then
  tmp=$RUN/initrd
  mkdir -p "$tmp"/{bin,dev,proc,sys,modules}
  cp "$BUSYBOX" "$tmp/bin/busybox"
  printf '%s\n' "$INIT" > "$tmp/init"; chmod 755 "$tmp/init"
  for p in "${ORDER[@]}"; do
    n=$(basename "$p"); n=${n%%.ko*}.ko     # busybox insmod wants them uncompressed
    case $p in
      *.xz) xz -dc "$MODDIR/$p" ;; *.zst) zstd -dcq "$MODDIR/$p" ;;
      *.gz) gzip -dc "$MODDIR/$p" ;; *) cat "$MODDIR/$p" ;;
    esac > "$tmp/modules/$n"
    echo "$n" >> "$tmp/modules/order"
  done
  touch "$tmp/modules/order"
  (cd "$tmp" && find . | cpio -o -H newc --quiet | gzip -1) > "$INITRD.tmp.$$"
  mv "$INITRD.tmp.$$" "$INITRD"
  rm -rf "$tmp"
fi

# --- 3. the per-run control directory ----------------------------------------
echo "$CTL" > "$CTL/dir"
echo "$MODDIR" > "$CTL/kmods"
: > "$CTL/rwdirs"
for i in "${!RWDIRS[@]}"; do echo "vmrw$i ${RWDIRS[$i]}" >> "$CTL/rwdirs"; done
{
  echo "# generated by vmrun.sh; run by bash inside the guest"
  for v in PATH HOME LANG CI $(compgen -e | grep '^EMP_' || true) "${PASSENV[@]}"; do
    case $v in
      *=*) printf 'export %s=%q\n' "${v%%=*}" "${v#*=}" ;;
      *) if [ -n "${!v+x}" ]; then printf 'export %s=%q\n' "$v" "${!v}"; fi ;;
    esac
  done
  # shellcheck disable=SC2016  # expanded in the guest
  echo 'export TERM=dumb EMP_KERNEL_UNDER_TEST="$(uname -r)"'
  # Two probes on the sys_enter tracepoint for the guest's whole life (EMP_VM_HOLD_SYS_ENTER=0
  # to leave it alone): a program attached to a syscall tracepoint then adds a third and
  # removing it goes back to two, so its static key and static call are never patched (text
  # patching under multi-threaded TCG is the soft lockup; README, "Guest soft lockups").
  # raw_syscalls/sys_enter with a filter nothing matches, and syscalls/sys_enter_getpgid
  # (ftrace's probe for every syscall event), which nothing calls.
  # shellcheck disable=SC2016  # expanded in the guest
  echo 'if [ "${EMP_VM_HOLD_SYS_ENTER:-1}" = 1 ]; then E=/sys/kernel/tracing/events; { echo "id == -1" > $E/raw_syscalls/sys_enter/filter && echo 1 > $E/raw_syscalls/sys_enter/enable && echo 1 > $E/syscalls/sys_enter_getpgid/enable; } 2>/dev/null || echo "vmrun: could not hold the sys_enter tracepoint" >&2; fi'
  printf 'ulimit -l %s 2>/dev/null || true\n' "$(ulimit -l)"
  printf 'ulimit -n %s 2>/dev/null || true\n' "$(ulimit -n)"
  printf 'cd %q || { echo "vmrun: no directory %q in the guest" >&2; exit 125; }\n' "$PWD" "$PWD"
  printf 'exec'; printf ' %q' "$@"; echo
} > "$CTL/cmd.sh"

# --- 4. QEMU ------------------------------------------------------------------
# shellcheck disable=SC2054  # the commas belong to QEMU's option syntax
QARGS=(-machine q35 -bios "$QBOOT" -accel "tcg,thread=$TCG_THREAD" -cpu max
       -m "$MEM" -smp "$CPUS" -nodefaults -no-user-config -display none -no-reboot
       -serial stdio -kernel "$BOOTIMG" -initrd "$INITRD")
# A CPU stuck in the kernel panics the guest (and so ends the run, failed) instead of
# spinning until the time limit; the panic replays the whole kernel log to the console.
APPEND="console=ttyS0 rdinit=/init emp.fs=$FS panic=-1 oops=panic mitigations=off nokaslr"
APPEND="$APPEND softlockup_panic=1 softlockup_all_cpu_backtrace=1 panic_print=32"
[ "$VERBOSE" = 1 ] || APPEND="$APPEND quiet loglevel=3"

if [ "$FS" = 9p ]; then
  # shellcheck disable=SC2054
  QARGS+=(-fsdev "local,id=root,path=/,security_model=none,readonly=on,multidevs=remap"
          -device virtio-9p-pci,fsdev=root,mount_tag=hostroot
          -fsdev "local,id=ctl,path=$CTL,security_model=none"
          -device virtio-9p-pci,fsdev=ctl,mount_tag=vmctl)
  for i in "${!RWDIRS[@]}"; do
    QARGS+=(-fsdev "local,id=rw$i,path=${RWDIRS[$i]},security_model=none"
            -device "virtio-9p-pci,fsdev=rw$i,mount_tag=vmrw$i")
  done
else
  [ -n "$VIRTIOFSD" ] || die "virtiofsd not found: apt-get install virtiofsd (or qemu-system-common on bookworm)"
  virtiofsd() {  # virtiofsd TAG DIR CACHE: start a daemon, add its device
    local sock="$RUN/$1.sock"
    if "$VIRTIOFSD" --help 2>&1 | grep -q -- --shared-dir; then   # the Rust one
      "$VIRTIOFSD" --socket-path="$sock" --shared-dir="$2" --cache="$3" --sandbox=chroot >/dev/null 2>&1 &
    else                                                          # QEMU's C one
      "$VIRTIOFSD" --socket-path="$sock" -o "source=$2,cache=$3,sandbox=chroot" >/dev/null 2>&1 &
    fi
    VFSD_PIDS+=($!)
    for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
    [ -S "$sock" ] || die "virtiofsd for $2 did not start"
    QARGS+=(-chardev "socket,id=$1,path=$sock" -device "vhost-user-fs-pci,chardev=$1,tag=$1")
  }
  virtiofsd hostroot / always
  virtiofsd vmctl "$CTL" none
  for i in "${!RWDIRS[@]}"; do virtiofsd "vmrw$i" "${RWDIRS[$i]}" none; done
  # vhost-user devices need the guest's RAM shareable with the daemons
  # shellcheck disable=SC2054
  QARGS+=(-object "memory-backend-memfd,id=mem,size=$MEM,share=on" -numa node,memdev=mem)
fi

set +e
timeout -k 10 "$TIMEOUT" qemu-system-x86_64 "${QARGS[@]}" -append "$APPEND" </dev/null &
QEMU_PID=$!
wait "$QEMU_PID"
qrc=$?
QEMU_PID=
set -e

if [ -s "$CTL/rc" ]; then exit "$(cat "$CTL/rc")"; fi
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
  echo "vmrun: $KREL: timed out after ${TIMEOUT}s (raise it with -t or EMP_VM_TIMEOUT)" >&2
  exit 124
fi
echo "vmrun: $KREL: the guest never reported an exit status (qemu exit $qrc); rerun with -v to see its boot" >&2
exit 125
