#!/usr/bin/env bash
# Benchmarks the firewall keeper (src/lib/firewall.ts, issue 20) on a gateway namespace
# whose filter table is UniFi's (test/lab/unifi-firewall.sh), with udp-proxy as the
# proxy that keeps a port open; no traffic leaves the namespace. Table: scripts/dev/bench/table.sh.
# Goals are reported (ok / MISSED), never asserted.
#
# Usage: scripts/dev/bench-firewall.sh   (as root; needs dist/udp-proxy-linux-x64,
#        iptables-legacy; about 2 minutes)
#
# Measures:
#   put back:  FWB_REBUILDS (10) re-provisionings (the whole table restored from UniFi's
#              template, its state file touched); the time from the restore's end until
#              the proxy's jump is back, median and max (goal: within 5 s)
#   idle cost: the daemon's CPU time while nothing happens, on the UniFi gateway (the
#              watch: the table's shape each second, UniFi's state file) against the same
#              daemon on a plain host (no legacy table: nothing to watch), FWB_ROUNDS (3)
#              alternating windows of FWB_SECONDS (20) each; CPU-seconds per hour, from
#              every thread's schedstat (nanoseconds)
set -euo pipefail
cd "$(dirname "$0")/../.."
export LC_ALL=C

FWB_REBUILDS=${FWB_REBUILDS:-10}
FWB_ROUNDS=${FWB_ROUNDS:-3}
FWB_SECONDS=${FWB_SECONDS:-20}
UP=${BENCH_UDP_PROXY:-dist/udp-proxy-linux-x64}

LAB_PREFIX=udmf$$-
# shellcheck source=test/lab/lib.sh
. test/lab/lib.sh
# shellcheck source=test/lab/unifi-firewall.sh
. test/lab/unifi-firewall.sh
# shellcheck source=scripts/dev/bench/table.sh
. scripts/dev/bench/table.sh

need_root
need_cmd ip iptables-legacy iptables-legacy-restore ip6tables-legacy-restore awk sort
[ -x "$UP" ] || die "$UP is missing; run: make build"

ns_add gw
nsx gw ip link set lo up
nsx gw ip link add eth8 type veth peer name eth8-peer
nsx gw ip link set eth8 up
nsx gw ip addr add 192.0.2.1/24 dev eth8
unifi_fw_up gw pre-zone eth8 wgsts1000 br0 br20
ns_add plain
nsx plain ip link set lo up

# cpu_ns PID : nanoseconds on CPU, all threads.
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }'; }
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

start_proxy() { # NS
	export UDM_PROXIES_UNIFI_STATE_FILE="$LAB_TMP/gw.state"
	daemon_start "$1" up "udp-proxy runs on $1" "$UP" --listen 5353 --upstream 127.0.0.1:53 --allow 198.51.100.0/24 \
		--control-socket "$LAB_TMP/up.sock" --log "$LAB_TMP/up.log"
	unset UDM_PROXIES_UNIFI_STATE_FILE
	UP_PID=$LAB_BG_PID
}
jump_back() { nsx gw iptables-legacy -S INPUT | grep -q 'UDM_PROXIES_UDP_PROXY'; }

# ---------------------------------------------------------------- put back
start_proxy gw
poll 5 jump_back || die "udp-proxy did not open its port"
sleep 12 # past the memory releaser's settling (10 s after the start): the idle state
times=()
for _ in $(seq "$FWB_REBUILDS"); do
	unifi_provision gw
	t0=${EPOCHREALTIME/./}
	poll 10 jump_back || die "the rules did not come back within 10 s"
	times+=($(((${EPOCHREALTIME/./} - t0) / 1000)))
	sleep 1.5
done
put_median=$(printf '%s\n' "${times[@]}" | median)
put_max=$(printf '%s\n' "${times[@]}" | sort -n | tail -1)
echo "# put back after each rebuild (ms): ${times[*]}"

# ---------------------------------------------------------------- idle cost
declare -A IDLE=([gw]="" [plain]="")
for r in $(seq "$FWB_ROUNDS"); do
	for mode in gw plain; do
		if [ "$r" != 1 ] || [ "$mode" != gw ]; then
			start_proxy "$mode"
			sleep 12
		fi
		a=$(cpu_ns "$UP_PID")
		sleep "$FWB_SECONDS"
		b=$(cpu_ns "$UP_PID")
		IDLE[$mode]+="$(awk -v d=$((b - a)) -v s="$FWB_SECONDS" 'BEGIN { printf "%.3f", d / 1e9 / s * 3600 }') "
		bg_stop "$UP_PID"
	done
done
echo "# idle CPU-seconds per hour, UniFi gateway: ${IDLE[gw]}; plain host: ${IDLE[plain]}"
# shellcheck disable=SC2086 # one figure per word
auto_h=$(printf '%s\n' ${IDLE[gw]} | median)
# shellcheck disable=SC2086
off_h=$(printf '%s\n' ${IDLE[plain]} | median)

row "rules back after a rebuild, median of $FWB_REBUILDS (ms)" "$put_median" - ms "<=5000"
row "rules back after a rebuild, max of $FWB_REBUILDS (ms)" "$put_max" - ms "<=5000"
row "idle CPU on a UniFi gateway vs a plain host (CPU-s per hour, median of $FWB_ROUNDS)" "$auto_h" "$off_h" s -
row "the watch's own idle cost (the difference, CPU-s per hour)" "$(awk -v a="$auto_h" -v o="$off_h" 'BEGIN { printf "%.2f", a - o }')" - s "<36"
print_table
