#!/usr/bin/env bash
# test/lab/vm/build.sh OUT - builds the arm64 test VM, a stand-in for a UniFi gateway:
# Debian 11 (bullseye, as UniFi OS 3/4 is) by debootstrap from the Debian mirror
# this machine's apt uses, Debian 11's own arm64 kernel (5.10) and initrd, systemd
# as init, and the packages listed in test/lab/vm/packages. Writes OUT/vmlinuz,
# OUT/initrd.img and OUT/root.img (ext4, the pristine root filesystem: what a
# firmware update installs). About 5 minutes on 2 cores; vm.sh caches the result
# under a hash of this file and the package list.
#
# The guest has one unit of ours, udmvm.service: after multi-user it mounts the
# host's shares (the repository read-only at /mnt/repo, results at /mnt/out) and
# runs test/lab/vm/guest/boot.sh from the repository, which does the rest. So the
# guest scripts change without rebuilding the image.
#
# Needs root, debootstrap, qemu-user-static (the second stage runs arm64 code
# through a binfmt entry registered here and removed at exit), e2fsprogs.
set -euo pipefail

# All in one function, called on the last line: bash reads a script as it runs, and
# an edit to this file during a build must not change what the build does.
main() {
local OUT=${1:?usage: build.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
SUITE=bullseye
QEMU=/usr/libexec/qemu-binfmt/aarch64-binfmt-P
BINFMT=/proc/sys/fs/binfmt_misc
ENTRY=udmvm-aarch64-$$

[ "$(id -u)" = 0 ] || { echo "build.sh: must run as root (debootstrap, binfmt)" >&2; exit 1; }
for c in debootstrap mkfs.ext4 chroot; do
	command -v "$c" >/dev/null || { echo "build.sh: $c is missing; run: sh scripts/dev/setup.sh" >&2; exit 1; }
done
[ -x "$QEMU" ] || { echo "build.sh: $QEMU is missing (apt-get install qemu-user-static)" >&2; exit 1; }
MIRROR=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$MIRROR" ] || MIRROR=$(awk '$1 == "deb" && $2 !~ /security/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$MIRROR" ] || { echo "build.sh: no Debian mirror found in /etc/apt" >&2; exit 1; }
PACKAGES=$(grep -v '^#' "$here/packages" | grep . | paste -sd, -)

R=$OUT/rootfs
registered=0
cleanup() {
	if [ "$registered" = 1 ] && [ -e "$BINFMT/$ENTRY" ]; then echo -1 >"$BINFMT/$ENTRY" || true; fi
	rm -rf "$R"
}
trap cleanup EXIT
t0=$(date +%s)
step() { echo "build.sh: $(($(date +%s) - t0)) s: $*"; }

rm -rf "$R"
mkdir -p "$R"
step "debootstrap first stage ($SUITE arm64 from $MIRROR)"
nice -n 19 debootstrap --foreign --arch=arm64 --variant=minbase --include="$PACKAGES" \
	"$SUITE" "$R" "$MIRROR" >"$OUT/debootstrap1.log" 2>&1 ||
	{ tail -n 20 "$OUT/debootstrap1.log"; exit 1; }

# A small initramfs: only what finds the root disk (the full one costs 2.5 min
# more). It must be set before the kernel package is configured.
mkdir -p "$R/etc/initramfs-tools/conf.d" "$R/usr/share/initramfs-tools/modules.d"
echo MODULES=list >"$R/etc/initramfs-tools/conf.d/udmvm.conf"
printf '%s\n' virtio_blk virtio_pci virtio_mmio ext4 >"$R/usr/share/initramfs-tools/modules.d/udmvm"
# dpkg syncs every file it unpacks; a half-built image is thrown away anyway.
mkdir -p "$R/etc/dpkg/dpkg.cfg.d"
echo force-unsafe-io >"$R/etc/dpkg/dpkg.cfg.d/udmvm-unsafe-io"

step "debootstrap second stage (arm64 code through qemu-user)"
mountpoint -q "$BINFMT" || mount -t binfmt_misc binfmt_misc "$BINFMT"
# The ELF header of an aarch64 executable; F: the interpreter is opened now, so it
# works inside the chroot. The kernel reads the \x escapes itself.
registered=1
# shellcheck disable=SC2028
echo ":$ENTRY:M::\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:$QEMU:OPF" >"$BINFMT/register"
nice -n 19 chroot "$R" /debootstrap/debootstrap --second-stage >"$OUT/debootstrap2.log" 2>&1 ||
	{ tail -n 20 "$OUT/debootstrap2.log"; exit 1; }
# UniFi's iptables is the legacy one; Debian's points at nf_tables by default.
for alt in iptables ip6tables; do
	chroot "$R" update-alternatives --set "$alt" "/usr/sbin/$alt-legacy" >>"$OUT/debootstrap2.log" 2>&1
done
echo -1 >"$BINFMT/$ENTRY"
registered=0

step "configure the guest"
echo udmvm >"$R/etc/hostname"
# /data is a disk of its own, as on the gateway; the root is what an update replaces.
cat >"$R/etc/fstab" <<'EOF'
/dev/vda / ext4 defaults 0 0
/dev/vdb /data ext4 defaults,nofail 0 0
EOF
mkdir -p "$R/data" "$R/mnt/repo" "$R/mnt/out" "$R/mnt/release"
# Nothing that is not needed at boot: no gettys, timers or the peers' own services
# (the scenarios start their peers themselves).
for u in getty@tty1.service serial-getty@ttyAMA0.service apt-daily.timer apt-daily-upgrade.timer \
	e2scrub_all.timer e2scrub_reap.service fstrim.timer radvd.service ndppd.service \
	systemd-timesyncd.service avahi-daemon.service avahi-daemon.socket; do
	ln -sf /dev/null "$R/etc/systemd/system/$u"
done
mkdir -p "$R/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\n' >"$R/etc/systemd/journald.conf.d/udmvm.conf"
cat >"$R/etc/systemd/system/udmvm.service" <<'EOF'
[Unit]
Description=udm-proxies test VM: run this boot's phase from the host's share
After=multi-user.target
# A runner that cannot start ends the boot at once: the host then reports the
# console, instead of waiting for its time limit.
FailureAction=poweroff

[Service]
Type=simple
# The 9p transport is a module that udev may not have loaded yet ("9pnet: Could not
# find request transport: virtio" on one boot in a few dozen).
ExecStartPre=-/sbin/modprobe -a 9pnet_virtio 9p
ExecStartPre=/bin/mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,ro repo /mnt/repo
ExecStartPre=/bin/mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 out /mnt/out
ExecStart=/bin/bash /mnt/repo/test/lab/vm/guest/boot.sh
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=multi-user.target
EOF
ln -sf /etc/systemd/system/udmvm.service "$R/etc/systemd/system/multi-user.target.wants/udmvm.service"
# Downloaded packages are not needed in the image, nor is the unsafe dpkg setting.
rm -rf "$R"/var/cache/apt/archives/*.deb "$R"/var/lib/apt/lists/* "$R/debootstrap" \
	"$R/etc/dpkg/dpkg.cfg.d/udmvm-unsafe-io"

step "kernel, initrd and the root image"
cp "$R"/boot/vmlinuz-*-arm64 "$OUT/vmlinuz"
cp "$R"/boot/initrd.img-*-arm64 "$OUT/initrd.img"
rm -f "$OUT/root.img"
truncate -s 2G "$OUT/root.img"
nice -n 19 mkfs.ext4 -q -F -L udmvm-root -d "$R" "$OUT/root.img"
step "done: $(du -sh --apparent-size "$OUT/root.img" | cut -f1) root image ($(du -sh "$OUT/root.img" | cut -f1) used)"
}

main "$@"
