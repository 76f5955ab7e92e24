# shellcheck shell=bash
# test/lab/vm/vm.sh - the host side of the arm64 test VM, sourced by the device test
# (test/e2e/device.test.sh) and by make bench. Source test/e2e/lib.sh first.
#
#   vm_image                 the cached image's folder in $VM_IMAGE (built if missing:
#                            .cache/vm/<hash of build.sh and packages>/)
#   vm_release DIR           the release directory the guest installs from (one place,
#                            so the release layout changes here only)
#   vm_disks WORK [EXTRA]    WORK/root.img (a copy of the pristine root), WORK/data.img
#                            (an empty /data), WORK/release.img (vm_release's files,
#                            and the folder EXTRA as extra/, for make bench)
#   vm_boot WORK RUN LIMIT   boot once, run guest/RUN (a script and its argument,
#                            "boot-proof.sh install"), wait for the guest to power off or
#                            reboot within LIMIT seconds; the guest's ok / not ok lines
#                            count here; a failure prints the tails of the guest's log
#                            and console
#   vm_update_root WORK      a "firmware update": the root replaced by a pristine copy,
#                            keeping /etc/systemd (and /data, a disk of its own)
#   vm_bench NAME            the start of a bench that measures in the VM
#                            (scripts/dev/bench-arm64-*.sh): root and qemu checked, WORK
#                            set, its disks removed at exit, the image in place; ok and
#                            fail report on stderr as NAME's
#
# The VM: qemu-system-aarch64 -M virt -cpu cortex-a57, 2 vCPUs and 1 GiB (the
# gateway's CPU and its free memory), TCG (no KVM for arm64 here). The guest sees the
# repository read-only (9p, /mnt/repo) and writes results to WORK/out (/mnt/out).
# Executables run from an ext4 disk, never from 9p (several times slower there).

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VM_REPO=$(cd "$VM_DIR/../../.." && pwd)
VM_CACHE=${VM_CACHE:-$VM_REPO/.cache/vm}
VM_BUILD_LIMIT=${VM_BUILD_LIMIT:-1500}
VM_IMAGE=

vm_recipe_hash() { cat "$VM_DIR/build.sh" "$VM_DIR/packages" | sha256sum | cut -c1-16; }

# vm_image: build the image once per recipe; concurrent runs wait on one lock.
vm_image() {
	local hash dir t0
	hash=$(vm_recipe_hash)
	dir=$VM_CACHE/$hash
	mkdir -p "$VM_CACHE"
	exec {_vm_lock}>"$VM_CACHE/.lock"
	flock "$_vm_lock"
	if [ ! -f "$dir/root.img" ]; then
		t0=$(date +%s)
		echo "# building the VM image into $dir (about 5 minutes; log: $dir.new/build.log)"
		rm -rf "$dir.new"
		mkdir -p "$dir.new"
		if ! timeout "$VM_BUILD_LIMIT" bash "$VM_DIR/build.sh" "$dir.new" >"$dir.new/build.log" 2>&1; then
			flock -u "$_vm_lock"
			bail "the VM image builds within ${VM_BUILD_LIMIT}s" "$(tail -n 30 "$dir.new/build.log")"
		fi
		# Older recipes' images are of no more use.
		find "$VM_CACHE" -mindepth 1 -maxdepth 1 -type d ! -name "$hash.new" -exec rm -rf {} +
		mv "$dir.new" "$dir"
		ok "the VM image was built in $(($(date +%s) - t0)) s"
	fi
	flock -u "$_vm_lock"
	VM_IMAGE=$dir
}

# vm_release DIR: the arm64 executables, the installer files and their SHA256SUMS,
# as the installer downloads them (what `make deploy` stages, for every proxy).
vm_release() {
	local dir=$1 f
	mkdir -p "$dir"
	for f in "$VM_REPO"/dist/*-linux-arm64 "$VM_REPO"/dist/install.sh "$VM_REPO"/dist/udm-proxies \
		"$VM_REPO"/dist/10-proxy.sh.in; do
		[ -f "$f" ] || bail "$f is missing; run make first"
		cp -l "$f" "$dir/" 2>/dev/null || cp "$f" "$dir/"
	done
	(cd "$dir" && sha256sum -- * >SHA256SUMS)
}

# mkfs_dir IMG LABEL DIR: an ext4 image holding DIR's files, with room to spare.
_vm_mkfs_dir() {
	local mb
	mb=$(du -sm "$3" | cut -f1)
	rm -f "$1"
	truncate -s "$((mb + mb / 4 + 64))M" "$1"
	mkfs.ext4 -q -F -L "$2" -d "$3" "$1"
}

vm_disks() {
	local work=$1 extra=${2:-}
	mkdir -p "$work/out"
	cp --sparse=always "$VM_IMAGE/root.img" "$work/root.img"
	truncate -s 512M "$work/data.img"
	mkfs.ext4 -q -F -L udmvm-data "$work/data.img"
	vm_release "$work/release"
	[ -z "$extra" ] || cp -rl "$extra" "$work/release/extra" 2>/dev/null || cp -r "$extra" "$work/release/extra"
	_vm_mkfs_dir "$work/release.img" udmvm-release "$work/release"
	rm -rf "$work/release"
}

# vm_update_root WORK: what a UniFi OS update does to the root: everything replaced
# by the new firmware's files (here the pristine image) except /etc/systemd, which
# is carried over; /data is another disk and is not touched.
vm_update_root() {
	local work=$1 keep=$1/etc-systemd cmds=$1/debugfs.cmds rel p
	rm -rf "$keep"
	debugfs -R "rdump /etc/systemd $work" "$work/root.img" >/dev/null 2>&1
	mv "$work/systemd" "$keep"
	cp --sparse=always "$VM_IMAGE/root.img" "$work/root.img"
	# debugfs writes the kept tree in; what exists in the new root is replaced.
	: >"$cmds"
	while IFS= read -r -d '' rel; do
		rel=${rel#./}
		p=/etc/systemd/$rel
		if [ -L "$keep/$rel" ]; then
			printf 'rm %s\nsymlink %s %s\n' "$p" "$p" "$(readlink "$keep/$rel")" >>"$cmds"
		elif [ -d "$keep/$rel" ]; then
			printf 'mkdir %s\n' "$p" >>"$cmds"
		else
			printf 'rm %s\nwrite %s %s\n' "$p" "$keep/$rel" "$p" >>"$cmds"
		fi
	done < <(cd "$keep" && find . -mindepth 1 -print0 | sort -z)
	debugfs -w -f "$cmds" "$work/root.img" >"$work/debugfs.log" 2>&1
}

# vm_boot WORK RUN LIMIT: one boot of the guest running guest/RUN.
vm_boot() {
	local work=$1 run=$2 limit=$3 name log rc=0 t0 secs line
	name=${run// /-}
	log=$work/out/$name.log
	rm -f "$log"
	t0=$(date +%s)
	timeout --signal=KILL "$limit" qemu-system-aarch64 -M virt -cpu cortex-a57 -smp 2 -m 1024 \
		-accel tcg,thread=multi -display none -monitor none -no-reboot -nic none \
		-serial "file:$work/console-$name.log" \
		-kernel "$VM_IMAGE/vmlinuz" -initrd "$VM_IMAGE/initrd.img" \
		-append "console=ttyAMA0 root=/dev/vda rw net.ifnames=0 udmvm.run=${run// /:}" \
		-drive "file=$work/root.img,format=raw,if=none,id=root,cache=unsafe" -device virtio-blk-pci,drive=root \
		-drive "file=$work/data.img,format=raw,if=none,id=data,cache=unsafe" -device virtio-blk-pci,drive=data \
		-drive "file=$work/release.img,format=raw,if=none,id=rel,readonly=on" -device virtio-blk-pci,drive=rel \
		-fsdev "local,id=repo,path=$VM_REPO,security_model=none,readonly=on" -device virtio-9p-pci,fsdev=repo,mount_tag=repo \
		-fsdev "local,id=out,path=$work/out,security_model=none" -device virtio-9p-pci,fsdev=out,mount_tag=out \
		</dev/null >"$work/qemu-$name.log" 2>&1 || rc=$?
	secs=$(($(date +%s) - t0))
	# The guest's own results count as ours.
	if [ -f "$log" ]; then
		while IFS= read -r line; do
			case $line in
			"ok - "*) ok "[vm $name] ${line#ok - }" ;;
			"not ok - "*) fail "[vm $name] ${line#not ok - }" ;;
			*) printf '%s\n' "$line" ;; # the guest's notes (figures) and failure details
			esac
		done < <(grep -aE '^((not )?ok - |#)' "$log")
	fi
	if [ "$rc" -eq 0 ] && grep -aq "^UDMVM-END $name rc=0" "$work/console-$name.log"; then
		ok "[vm $name] boot to power-off in ${secs}s"
		return 0
	fi
	local why="qemu exit $rc"
	[ "$rc" -ne 137 ] || why="killed after the ${limit}s limit"
	fail "[vm $name] the guest ran it and stopped ($why, ${secs}s)" \
		"$(printf -- '--- guest log (tail)\n%s\n--- console (tail)\n%s\n--- qemu\n%s' \
			"$(tail -n 12 "$log" 2>/dev/null)" "$(tail -n 18 "$work/console-$name.log" 2>/dev/null)" \
			"$(tail -n 3 "$work/qemu-$name.log")")"
	return 1
}

# Run, not sourced: `bash test/lab/vm/vm.sh --image` builds the image if it is missing
# (scripts/dev/test.sh starts it in the background while the other tests run).
if [ "${BASH_SOURCE[0]}" = "$0" ] && [ "${1:-}" = --image ]; then
	set -euo pipefail
	# shellcheck source=test/e2e/lib.sh
	. "$VM_REPO/test/e2e/lib.sh"
	vm_image
	finish
fi

vm_bench() { # NAME
	VM_BENCH=$1
	need_root
	need_cmd qemu-system-aarch64 debootstrap mkfs.ext4 flock
	# vm_boot reports through ok and fail: for a bench a failed boot is what matters.
	# shellcheck disable=SC2317 # called by vm_boot
	fail() {
		printf '%s: %s\n' "$VM_BENCH" "$1" >&2
		if [ -n "${2:-}" ]; then printf '%s\n' "$2" | lab_indent >&2; fi
	}
	WORK=$LAB_TMP/vm
	at_exit vm_bench_drop_disks
	vm_image
}
# shellcheck disable=SC2317 # run by at_exit
vm_bench_drop_disks() { rm -f "$WORK"/*.img; }
