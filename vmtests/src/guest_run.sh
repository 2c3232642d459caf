# Runs inside each guest (vmtest's command, under bash, after vmtest's init). Filled in by
# vmtests/src/guest_script.rs, which replaces the placeholders below.
#
# Everything the harness reads is a line starting with the marker below; the rest (test
# output) is kept for the log. The script always exits 0: per-binary exit codes are reported
# as marker lines, so a failing test never looks like a broken guest.
M=MESHTWIN-VMTEST

# The host root is shared read-only; tests get a writable /tmp, bpffs, and cgroup2 (vmtest's
# init mounts cgroup2 at /sys/fs/cgroup and tmpfs at /run).
# qemu-ga runs commands with its daemon umask (077); tests expect a login shell's.
umask 022

# A writable /tmp, but the host directories under /tmp the tests need (a checkout or target
# directory there) stay visible: they are set aside in /run (vmtest's tmpfs) and moved back.
keep=(@KEEP@)
for i in "${!keep[@]}"; do
    mkdir -p "/run/meshtwin-keep/$i" && mount --bind "${keep[$i]}" "/run/meshtwin-keep/$i" ||
        echo "$M setup-failed keep ${keep[$i]}"
done
mount -t tmpfs -o mode=1777 tmpfs /tmp || echo "$M setup-failed mount tmpfs on /tmp"
for i in "${!keep[@]}"; do
    mkdir -p "${keep[$i]}" && mount --move "/run/meshtwin-keep/$i" "${keep[$i]}" ||
        echo "$M setup-failed keep ${keep[$i]}"
done
# Shell builtins where they do: under emulation every process costs 0.2-0.8 s.
# The type of what is mounted on $1 (the last mount there: the one in use), or nothing.
mount_type() {
    local device mountpoint type rest found=
    while read -r device mountpoint type rest; do
        [ "$mountpoint" = "$1" ] && found=$type
    done </proc/mounts
    echo "$found"
}
[ -n "$(mount_type /sys/fs/bpf)" ] || mount -t bpf bpf /sys/fs/bpf || echo "$M setup-failed mount bpffs"
cd /

export MESHTWIN_RESULTS=/tmp/meshtwin-results.jsonl
export RUST_BACKTRACE=1
# The host's environment comes through vmtest, with $CARGO when vmtests runs under `cargo run`.
# Seeing it, the tests would have cargo build the programs they start (the traffic tool, the
# node proxy) into the read-only target directory; the host built them already (suite.rs).
unset CARGO
: >"$MESHTWIN_RESULTS"

echo "$M uname $(</proc/sys/kernel/osrelease)"
echo "$M guest tmp-writable $( (: >/tmp/.w) 2>/dev/null && echo yes || echo no)"
echo "$M guest bpffs $([ "$(mount_type /sys/fs/bpf)" = bpf ] && echo yes || echo no)"
cgroup2=
while read -r device mountpoint type rest; do
    [ "$type" = cgroup2 ] && [ -z "$cgroup2" ] && cgroup2=$mountpoint
done </proc/mounts
echo "$M guest cgroup2 $cgroup2"

run() {
    local name=$1
    shift
    echo "$M run $name"
    "$@"
    echo "$M exit $name $?"
}
read -r cpu_before </proc/stat
@RUNS@
read -r cpu_after </proc/stat
# Guest CPU time (USER_HZ ticks) before and after the tests: shows in guest.log whether a slow
# run was busy (user/system) or waiting (idle).
echo "$M guest cpu-before $cpu_before"
echo "$M guest cpu-after $cpu_after"

echo "$M results-begin"
cat "$MESHTWIN_RESULTS"
echo "$M results-end"
exit 0
