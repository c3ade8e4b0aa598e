#!/bin/sh
# Boots the host's systemd as PID 1 of the namespaces `unshare` made for this script (see
# mod.rs): an overlay of / with a tmpfs upper layer, fresh /proc, /sys, /dev, /run and /tmp,
# pivot_root, then systemd on a target that starts nothing of the host's.
#
# Usage: unshare --pid --fork --mount --uts --ipc --net --cgroup boot.sh BASE SHARE
# BASE is an empty host directory; a tmpfs is mounted on it inside the namespace only.
# SHARE is a host directory that appears as /mnt/share inside.
set -eu
base=$1
share=$2
# The upper layer must live on another filesystem than /; tmpfs is.
mount -t tmpfs -o mode=0755 portsd-systemd "$base"
mkdir "$base/upper" "$base/work" "$base/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$base/upper,workdir=$base/work" "$base/root"
root=$base/root
# A DynamicUser= service changes into / as its user: the root must stay searchable.
chmod 0755 "$root"

mount -t proc proc "$root/proc"
mount --bind "$root/proc/sys" "$root/proc/sys"
mount -o remount,bind,ro "$root/proc/sys"
mount -t sysfs -o ro sysfs "$root/sys"
mount -t cgroup2 cgroup2 "$root/sys/fs/cgroup"

mount -t tmpfs -o mode=0755,nosuid tmpfs "$root/dev"
for node in null zero random urandom tty full; do
  touch "$root/dev/$node"
  mount --bind "/dev/$node" "$root/dev/$node"
done
mkdir "$root/dev/pts" "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$root/dev/pts"
ln -s pts/ptmx "$root/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/dev/shm"
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$root/run"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/tmp"
mkdir -p "$root/mnt/share"
mount --bind "$share" "$root/mnt/share"

# What the host image adds to keep services from starting in containers, and what cannot work
# here (kernel modules, debugfs, tracefs), is taken away in the overlay only.
rm -f "$root/usr/sbin/policy-rc.d"
for unit in systemd-modules-load.service sys-kernel-debug.mount sys-kernel-tracing.mount \
  sys-kernel-config.mount sys-fs-fuse-connections.mount systemd-remount-fs.service \
  systemd-firstboot.service systemd-udevd.service systemd-udev-trigger.service; do
  ln -sf /dev/null "$root/etc/systemd/system/$unit"
done
cat > "$root/etc/systemd/system/portsd-test.target" <<'UNIT'
[Unit]
Description=The test's whole system: the journal and nothing of the host's
Requires=systemd-journald.socket
After=systemd-journald.socket
AllowIsolate=yes
UNIT
# The man-db trigger rebuilds the whole index on every install; nothing here reads it.
rm -f "$root/var/lib/man-db/auto-update"
echo portsd-test > "$root/etc/hostname"
: > "$root/etc/machine-id"

cd "$root"
mkdir -p oldroot
pivot_root . oldroot
cd /
umount -l /oldroot
rmdir /oldroot
export container=portsd-test
exec /lib/systemd/systemd --system --unit=portsd-test.target --log-target=kmsg --show-status=no
