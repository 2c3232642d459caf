#!/bin/busybox sh
# /init of the shim initramfs that meshtwin's vmtests builds for each kernel (vmtests/src/shim.rs).
#
# The vmtest crate boots a kernel with the host's root shared over 9p and expects virtio and 9p
# to be built in; Debian's generic kernels have them as modules. This shim loads them (and the
# datapath's modules), mounts the host root the way the kernel would have (9p tag /dev/root,
# read-only), and hands over to the init= vmtest asked for.
#
# Every tool is called through busybox by full path: the host root is not mounted yet, and
# busybox's own applets must not be mistaken for the host's tools later.

B=/bin/busybox

say() {
    $B echo "meshtwin-shim: $*"
}

# Powering off makes qemu exit at once (vmtest passes -no-reboot), so the harness reports the
# failure with this line in the console tail instead of waiting for its timeout.
die() {
    say "FATAL: $*"
    $B poweroff -f
}

$B mount -t proc proc /proc
$B mount -t sysfs sysfs /sys
$B mount -t devtmpfs devtmpfs /dev 2>/dev/null

while read -r module; do
    [ -n "$module" ] || continue
    $B insmod "/modules/$module.ko" || die "insmod $module failed"
done </modules/load-order

cmdline=$($B cat /proc/cmdline)

# Probe mode: the harness only wants to know that this kernel boots with this accelerator.
case " $cmdline " in
*" meshtwin.probe=1 "*)
    say "probe ok on $($B uname -r)"
    $B poweroff -f
    ;;
esac

init=
for arg in $cmdline; do
    case "$arg" in
    init=*) init="${arg#init=}" ;;
    esac
done
[ -n "$init" ] || die "no init= on the kernel command line"

# virtio devices may still be probing right after insmod: retry for a few seconds.
tries=0
until $B mount -t 9p -o trans=virtio,cache=loose,msize=1048576,ro /dev/root /newroot; do
    tries=$((tries + 1))
    [ "$tries" -lt 50 ] || die "cannot mount the host root (9p tag /dev/root)"
    $B sleep 0.1
done
[ -e "/newroot$init" ] || die "init $init is not on the host root"

$B umount /dev 2>/dev/null
$B umount /sys
$B umount /proc
say "loaded modules, mounted the host root read-only; switching to $init"
exec $B switch_root /newroot "$init"
