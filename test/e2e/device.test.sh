#!/usr/bin/env bash
# test/e2e/device.test.sh - the device stage (make test-device): the arm64 executables
# on an arm64 VM that looks like the gateway (test/lab/vm/: Debian 11, systemd, /data
# on a disk of its own; 2 emulated Cortex-A57, 1 GiB).
#
#   1. the image: built once into .cache/vm/ (about 5 minutes), reused until its
#      recipe (test/lab/vm/build.sh, test/lab/vm/packages) changes
#   2. proxies.sh: each proxy does its real job in namespaces inside the guest
#   3. unifi.sh: two UniFi-shaped gateways (UniFi's firewall through iptables-legacy,
#      re-provisioned by a unit in the guest; UDM-Pro names; WireGuard; avahi reflector):
#      udp-tunnel and ssdp-proxy with --firewall off and auto, through re-provisionings
#      and WAN churn (issue 20)
#   4. proxies.sh kernel-4.4: the jobs of 2 again with the system calls added after
#      Linux 4.4 answering ENOSYS and the offloads refused (the UDR's kernel)
#   5. boot-proof.sh, one boot per phase on the same disks: install from a release
#      served in the guest -> reboot -> a firmware update (vm_update_root: a pristine
#      root, /etc/systemd and /data kept) -> kill -9, a second proxy, uninstalls ->
#      udm-boot: one daemon -> a dropped unit put back by udm-boot and by repair
#
# Every guest line (ok / not ok) counts here; a boot has a time limit; a failure
# prints the tails of the guest's log and console. Run as root.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=test/e2e/lib.sh
. test/e2e/lib.sh
# shellcheck source=test/lab/vm/vm.sh
. test/lab/vm/vm.sh
need_root
need_cmd qemu-system-aarch64 debootstrap mkfs.ext4 debugfs flock
t0=$(date +%s)

WORK=$LAB_TMP/vm
# The disks (GBs) go whatever happens; the logs stay when something failed.
# shellcheck disable=SC2317 # run by at_exit
drop_disks() { rm -f "$WORK"/*.img; }
at_exit drop_disks

vm_image
vm_disks "$WORK"
# DEVICE_STEPS: the steps to run (for a developer; default all: proxies unifi kernel-4.4 proof).
steps=" ${DEVICE_STEPS:-proxies unifi kernel-4.4 proof} "
case $steps in *" proxies "*) vm_boot "$WORK" proxies.sh 600 || true ;; esac
case $steps in *" unifi "*) vm_boot "$WORK" unifi.sh 600 || true ;; esac
case $steps in *" kernel-4.4 "*) vm_boot "$WORK" "proxies.sh kernel-4.4" 600 || true ;; esac
case $steps in *" proof "*) ;; *) finish ;; esac

# Each phase needs the one before; the first that fails ends the proof.
proof() { # PHASE LIMIT
	vm_boot "$WORK" "boot-proof.sh $1" "$2" || bail "the boot proof stops at phase $1"
}
proof install 300
proof reboot 240
vm_update_root "$WORK"
proof update 420
proof udm-boot 240
proof repair 300

echo "# device stage: $(($(date +%s) - t0)) s"
finish
