#!/bin/busybox sh
# PID 1 of the test guest (packed into the initramfs by test/vm/provision.ts).
#
# Loads the modules listed in /lib/modules/order (dependency order, computed
# on the host with modinfo), mounts the host's root read-only over 9p, the
# project directory and the writable shared folder at their host paths, and
# chroots in to run the job the host wrote to the shared folder. The job's
# stdout/stderr/exit code go to the shared folder; then the guest powers off.
#
#   9p tag     guest path (inside the chroot)   mode
#   hostroot   /                                 ro, cached (the host's node, nvme-cli, fio ...)
#   project    $NVMEVM_PROJECT                   ro or rw, uncached
#   shared     $NVMEVM_SHARED                    rw, uncached (job.sh, job.env, stdout, stderr, rc, dmesg)
#
# Also: lo is brought up (127.0.0.1, for NVMe/TCP in the guest) and configfs
# is mounted at /sys/kernel/config in the chroot (the kernel's nvmet target).
#
# tmpfs over /tmp /run /var/tmp /root and /dev/shm give the job writable
# scratch space without touching the host.

/bin/busybox mkdir -p /bin /proc /sys /dev /newroot /shared
/bin/busybox --install -s /bin
export PATH=/bin

say() { echo "nvme-wasm-vm: $*"; }
fail() {
	say "FAILED: $*"
	# The host reads boot-error when the shared folder got mounted.
	[ -d /shared/.mounted ] && echo "$*" > /shared/boot-error
	sync
	poweroff -f
	sleep 60
}

mount -t proc proc /proc || fail "mount /proc"
mount -t sysfs sysfs /sys || fail "mount /sys"
mount -t devtmpfs devtmpfs /dev || fail "mount /dev"

# Parameters of module m on the kernel command line (m.param=value), as
# modprobe would pass them: the kernel applies those to built-in code only.
params() {
	for w in $(cat /proc/cmdline); do
		case "$w" in "$1".*=*) printf '%s ' "${w#"$1".}" ;; esac
	done
}
while read -r m; do
	# shellcheck disable=SC2046 # one word per parameter
	insmod "/lib/modules/$m.ko" $(params "$m") || fail "insmod $m $(params "$m")"
done < /lib/modules/order
# The loopback interface (NVMe over TCP between initiator and target in the
# guest): busybox init leaves it down.
ip link set lo up || fail "ip link set lo up"

# 9p2000.L with a large msize: the job reads node (~100 MB) through it.
P9=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o "$P9" shared /shared || fail "mount the shared folder"
mkdir -p /shared/.mounted
. /shared/job.env || fail "read job.env"

mount -t 9p -o "$P9,ro,cache=loose" hostroot /newroot || fail "mount the host root"
mount -t proc proc /newroot/proc || fail "mount /proc in the chroot"
mount -t sysfs sysfs /newroot/sys || fail "mount /sys in the chroot"
# configfs: the kernel NVMe/TCP target (nvmet) is configured through it.
if [ -d /newroot/sys/kernel/config ]; then
	mount -t configfs configfs /newroot/sys/kernel/config || fail "mount configfs"
fi
mount -t devtmpfs devtmpfs /newroot/dev || fail "mount /dev in the chroot"
mkdir -p /newroot/dev/shm /newroot/dev/pts /newroot/dev/hugepages
mount -t tmpfs -o mode=1777 tmpfs /newroot/dev/shm || fail "mount /dev/shm"
mount -t devpts devpts /newroot/dev/pts || fail "mount /dev/pts"
for d in /tmp /run /var/tmp /root; do
	[ -d "/newroot$d" ] && { mount -t tmpfs -o mode=1777 tmpfs "/newroot$d" || fail "mount tmpfs on $d"; }
done
# After the tmpfs mounts: either path may lie under /tmp on the host.
mkdir -p "/newroot$NVMEVM_SHARED" "/newroot$NVMEVM_PROJECT" || fail "create the mount points"
mount --bind /shared "/newroot$NVMEVM_SHARED" || fail "bind the shared folder"
mount -t 9p -o "$P9,$NVMEVM_PROJECT_MODE" project "/newroot$NVMEVM_PROJECT" || fail "mount the project"

read -r up _ < /proc/uptime
say "job start at ${up}s"
echo "$up" > /shared/boot-seconds
chroot /newroot /bin/sh -c 'cd "$1" && exec /bin/sh "$2/job.sh"' job "$NVMEVM_PROJECT" "$NVMEVM_SHARED" \
	< /dev/null > /shared/stdout 2> /shared/stderr
echo $? > /shared/rc
# The whole kernel log (the console shows warnings and worse only).
dmesg > /shared/dmesg 2>&1
read -r up _ < /proc/uptime
say "job end at ${up}s, exit $(cat /shared/rc)"
sync
poweroff -f
sleep 60
