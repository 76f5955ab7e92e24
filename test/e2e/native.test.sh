#!/usr/bin/env bash
# The native layer (koffi) for real, in a namespace: a TUN device that we read
# and answer, and an AF_PACKET capture of a DAD NS on a veth.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/e2e/lib.sh
need_root
need_cmd ip ping node

ns_add nat
ns_add peer
ip link add n0 netns "$(ns_name nat)" type veth peer name p0 netns "$(ns_name peer)"
nsx nat ip link set n0 up
ns_sysctl peer net.ipv6.conf.p0.accept_dad=1

probe() { nsx nat node -r esbuild-register test/e2e/native-probe.ts "$@"; }

out=$(probe tun 2>&1 || true)
case "$out" in *"PASS tun"*) ok "TUN: ping through a device we read and answer" ;; *) fail "TUN: ping through a device we read and answer" "$out" ;; esac
check "TUN device is gone once its fd is closed" bash -c "! ip netns exec $(ns_name nat) ip link show udmtun0"

ifindex=$(nsx nat cat /sys/class/net/n0/ifindex)
peer="ip netns exec $(ns_name peer) sh -c 'ip link set p0 up; ip addr add 2001:db8:9::42/64 dev p0'"
out=$(probe packet "$ifindex" "$peer" 2001:db8:9::42 2>&1 || true)
case "$out" in *"PASS packet: DAD NS for 2001:db8:9::42"*) ok "AF_PACKET: DAD NS captured through the BPF filter" ;; *) fail "AF_PACKET: DAD NS captured through the BPF filter" "$out" ;; esac

finish
