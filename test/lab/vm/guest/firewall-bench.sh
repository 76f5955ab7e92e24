#!/usr/bin/env bash
# shellcheck disable=SC2317 # helpers are invoked through poll/require_wait
# test/lab/vm/guest/firewall-bench.sh - inside the arm64 guest, for make bench: the
# firewall keeper (src/lib/firewall.ts, issue 20) on a gateway namespace whose filter
# table is UniFi's (test/lab/unifi-firewall.sh), with udp-proxy keeping its port open,
# as scripts/dev/bench-firewall.sh measures it on x86. One line per figure:
#
#   FWB rebuild ms=<n>                  the time from a rebuild's end (the whole table
#                                       restored from the template, the state file
#                                       touched) to the proxy's jump being back; 10 of them
#   FWB idle <unifi|plain> cpu_s_per_h=<x>  the daemon's CPU while nothing happens, on the
#                                       UniFi gateway (the watch) and on a plain host
#                                       (nothing to watch), ROUNDS alternating windows
#
# The CPU is emulated (TCG): CPU figures are the emulated core's, several times what a
# real Cortex-A57 spends; compare the two cases, not the absolute values.
set -euo pipefail
cd /mnt/repo
. test/e2e/lib.sh
need_root
need_cmd ip iptables-legacy iptables-legacy-restore ip6tables-legacy-restore
REL=${UDMVM_RELEASE:-/mnt/release}
UP=$REL/udp-proxy-linux-arm64
REBUILDS=10
ROUNDS=3
SECONDS_EACH=20
# shellcheck source=test/lab/unifi-firewall.sh
. test/lab/unifi-firewall.sh
modprobe veth

ns_add gw
nsx gw ip link add eth8 type veth peer name eth8-peer
nsx gw ip link set eth8 up
nsx gw ip addr add 192.0.2.1/24 dev eth8
unifi_fw_up gw pre-zone eth8 wgsts1000 br0 br20
ns_add plain

cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }'; }
start_proxy() { # NS
	bg_in "$1" "$LAB_TMP/up-$1.out" env UDM_PROXIES_UNIFI_STATE_FILE="$LAB_TMP/gw.state" MALLOC_ARENA_MAX=1 \
		"$UP" --listen 5353 --upstream 127.0.0.1:53 --allow 198.51.100.0/24 \
		--control-socket "$LAB_TMP/up.sock" --log "$LAB_TMP/up-$1.log"
	UP_PID=$LAB_BG_PID
	require_wait 60 "udp-proxy runs in $1" nsx "$1" "$UP" status --control-socket "$LAB_TMP/up.sock"
}
jump_back() { nsx gw iptables-legacy -S INPUT | grep -q UDM_PROXIES_UDP_PROXY; }

start_proxy gw
require_wait 10 "udp-proxy opened its port in UniFi's table" jump_back
sleep 15 # past the memory releaser's settling (10 s after the start): the idle state
for _ in $(seq "$REBUILDS"); do
	unifi_provision gw
	t0=${EPOCHREALTIME/./}
	if poll 15 jump_back; then
		echo "FWB rebuild ms=$(((${EPOCHREALTIME/./} - t0) / 1000))"
	else
		echo "FWB rebuild ms=never"
	fi
	sleep 2
done

for r in $(seq "$ROUNDS"); do
	for mode in gw plain; do
		if [ "$r" != 1 ] || [ "$mode" != gw ]; then
			start_proxy "$mode"
			sleep 15
		fi
		a=$(cpu_ns "$UP_PID")
		sleep "$SECONDS_EACH"
		b=$(cpu_ns "$UP_PID")
		name=unifi
		[ "$mode" = gw ] || name=plain
		echo "FWB idle $name cpu_s_per_h=$(awk -v d=$((b - a)) -v s="$SECONDS_EACH" 'BEGIN { printf "%.3f", d / 1e9 / s * 3600 }')"
		bg_stop "$UP_PID"
	done
done
ok "the firewall bench ran"
finish
