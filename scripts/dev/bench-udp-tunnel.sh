#!/usr/bin/env bash
# Benchmarks udp-tunnel: iperf3 TCP through one tunnel, against a socat TUN tunnel
# (Debian socat: a C userspace tunnel of the same design, IP packet as UDP payload),
# against the raw underlay (the limit here) and against today's build (the last commit
# before the batched data path), without a key (the original's wire format) and with
# one (ChaCha20-Poly1305, roaming on: every keyed tunnel follows its peer), and the
# keyed one against wireguard-go (Debian's userspace WireGuard, the tunnel an owner
# would otherwise run; wg from wireguard-tools configures it). Two hosts of the udp-tunnel lab (test/lab/udp-tunnel.sh) in
# network namespaces this script creates and removes; no traffic leaves them. The
# machine is noisy: every path is measured in each of UTB_ROUNDS rounds (3), the paths
# alternating, and the table (scripts/dev/bench/table.sh) shows medians and the median
# ratio with its range. Goals are reported (ok / MISSED), never asserted: the exit
# status is non-zero only when the bench cannot run.
#
# Usage: scripts/dev/bench-udp-tunnel.sh   (as root; needs dist/udp-tunnel-linux-x64,
#        iperf3, socat, wireguard-go, wg, python3, git; about 2 minutes)
#
#   h1 192.0.2.1 --underlay bridge-- 192.0.2.2 h2     every tunnel MTU 1400:
#     this build 10.8.0.x (keyed 10.8.2.x), today's 10.8.1.x (keyed 10.8.3.x), socat 10.8.9.x,
#     wireguard-go 10.8.8.x
#   All tunnel programs (both ends) run on the last CPU, iperf3 on the others.
#
# UTB_SECONDS (3): length of each iperf3 run. Besides Mbit/s: the tunnel programs'
# CPU-seconds (both ends) per Gbit moved, the figure that carries over to slower cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
export LC_ALL=C

SECONDS_EACH=${UTB_SECONDS:-3}
ROUNDS=${UTB_ROUNDS:-3}
UT=${BENCH_UDP_TUNNEL:-dist/udp-tunnel-linux-x64}
MTU=1400

LAB_PREFIX=utb$$-
# shellcheck source=test/lab/lib.sh
. test/lab/lib.sh
# shellcheck source=test/lab/udp-tunnel.sh
. test/lab/udp-tunnel.sh
# shellcheck source=scripts/dev/bench/table.sh
. scripts/dev/bench/table.sh
# shellcheck source=scripts/dev/bench/rounds.sh
. scripts/dev/bench/rounds.sh

need_root
need_cmd ip iperf3 socat wireguard-go wg python3 taskset nproc git
[ -x "$UT" ] || die "$UT is missing; run: node scripts/build/build.mjs --target linux-x64 udp-tunnel"
baseline_build OLD udp-tunnel

bench_cpus

# ------------------------------------------------------------ lab
tunnel_underlay_up
for n in 1 2; do
	tunnel_host_add "$n"
	# No IPv6 chatter (router solicitations) through the tunnels under test.
	ns_sysctl "h$n" net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1
done
head -c 32 /dev/urandom | base64 >"$LAB_TMP/key"

declare -A PIDS=()
# tunnel WHO EXE NET PORT [serve flags...] : a daemon pair (ports PORT, PORT+1), tunnel
# "t-WHO" 10.8.NET.1 <-> 10.8.NET.2; both pids in PIDS[WHO]
tunnel() {
	local who=$1 exe=$2 net=$3 port=$4 h i pids=()
	shift 4
	for i in 1 2; do
		h=h$i
		bg_in "$h" "$LAB_TMP/$who-$h.out" taskset -c "$MEASURED_CPU" "$exe" serve -dp "$port" -cp $((port + 1)) \
			--control-socket "$LAB_TMP/$who-$h.sock" --log "$LAB_TMP/$who-$h.log" "$@"
		pids+=("$LAB_BG_PID")
	done
	for i in 1 2; do
		wait_until 10 "udp-tunnel ($who) on h$i" nsx "h$i" "$exe" status --control-socket "$LAB_TMP/$who-h$i.sock"
		nsx "h$i" "$exe" ctl -s 127.0.0.1 -p $((port + 1)) -o add -n "t-$who" -t "10.8.$net.$i" -m 24 --mtu "$MTU" -r "192.0.2.$((3 - i))" >/dev/null
	done
	wait_until 5 "the $who tunnel" nsx h1 ping -c 1 -W 1 "10.8.$net.2"
	PIDS[$who]="${pids[*]}"
}
tunnel new "$UT" 0 5000
tunnel old "$OLD" 1 5010
tunnel new-keyed "$UT" 2 5020 --key-file "$LAB_TMP/key"
tunnel old-keyed "$OLD" 3 5030 --key-file "$LAB_TMP/key"
# UDP-DATAGRAM (unconnected): an ICMP port unreachable while the other end starts
# would make a connected socat exit.
pids=()
for i in 1 2; do
	bg_in "h$i" "$LAB_TMP/socat-$i.out" taskset -c "$MEASURED_CPU" socat "UDP-DATAGRAM:192.0.2.$((3 - i)):6000,bind=192.0.2.$i:6000" \
		"TUN:10.8.9.$i/24,tun-name=stun0,iff-no-pi,iff-up"
	pids+=("$LAB_BG_PID")
done
wait_until 5 "socat tun devices" bash -c "ip -n $(ns_name h1) link show stun0 && ip -n $(ns_name h2) link show stun0"
nsx h1 ip link set stun0 mtu "$MTU"
nsx h2 ip link set stun0 mtu "$MTU"
wait_until 5 "the socat tunnel" nsx h1 ping -c 1 -W 1 10.8.9.2
PIDS[socat]="${pids[*]}"
# wireguard-go, pinned like the others (its threads inherit the CPU); it refuses to run
# where the kernel has WireGuard unless told that userspace is wanted. Its control socket
# is /var/run/wireguard/NAME.sock, outside the namespaces: one name per host.
pids=()
for i in 1 2; do
	(umask 077 && wg genkey >"$LAB_TMP/wg$i.key")
	wg pubkey <"$LAB_TMP/wg$i.key" >"$LAB_TMP/wg$i.pub"
done
for i in 1 2; do
	bg_in "h$i" "$LAB_TMP/wg-$i.out" env WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 taskset -c "$MEASURED_CPU" wireguard-go -f "utbwg$i"
	pids+=("$LAB_BG_PID")
done
for i in 1 2; do
	wait_until 5 "wireguard-go on h$i" nsx "h$i" ip link show "utbwg$i"
	nsx "h$i" wg set "utbwg$i" private-key "$LAB_TMP/wg$i.key" listen-port 6100 \
		peer "$(cat "$LAB_TMP/wg$((3 - i)).pub")" allowed-ips 10.8.8.0/24 endpoint "192.0.2.$((3 - i)):6100"
	nsx "h$i" ip addr add "10.8.8.$i/24" dev "utbwg$i"
	nsx "h$i" ip link set "utbwg$i" mtu "$MTU" up
done
wait_until 5 "the wireguard-go tunnel" nsx h1 ping -c 1 -W 1 10.8.8.2
PIDS[wg]="${pids[*]}"
PATH_NEW=$(nsx h1 "$UT" status --control-socket "$LAB_TMP/new-h1.sock" | sed -n 's/^data path: //p')
AEAD_NEW=$(nsx h1 "$UT" status --control-socket "$LAB_TMP/new-keyed-h1.sock" | sed -n 's/.*; AEAD: //p')

ticks() { # WHO: CPU ticks of its programs so far
	local p t=0
	for p in ${PIDS[$1]:-}; do t=$((t + $(cpu_ticks "$p"))); done
	echo "$t"
}
# measure WHO ADDRESS : iperf3 TCP h1 -> h2 for SECONDS_EACH; Mbit/s, and CPU-s per Gbit
measure() {
	local who=$1 srv c0 c1 mbps
	bg_in h2 "$LAB_TMP/iperf3-s.out" taskset -c "$LOAD_CPUS" iperf3 -s -1 -B "$2"
	srv=$LAB_BG_PID
	wait_until 5 "iperf3 server on $2" bash -c "ip netns exec $(ns_name h2) ss -ltn | grep -q '$2:5201'"
	c0=$(ticks "$who")
	nsx h1 taskset -c "$LOAD_CPUS" iperf3 -c "$2" -t "$SECONDS_EACH" -J >"$LAB_TMP/iperf3-c.json" 2>&1 || die "iperf3 to $2 ($who) failed: $(tail -5 "$LAB_TMP/iperf3-c.json")"
	c1=$(ticks "$who")
	wait "$srv" 2>/dev/null || true
	bg_stop "$srv"
	mbps=$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e6))' "$LAB_TMP/iperf3-c.json")
	keep "$who" "$mbps"
	[ "$who" = raw ] || keep "cpu_$who" "$(awk -v c=$((c1 - c0)) -v hz="$CLK_TCK" -v m="$mbps" -v s="$SECONDS_EACH" 'BEGIN { g = m * s / 1000; printf "%.2f", (g > 0 ? (c / hz) / g : 0) }')"
}

echo "bench-udp-tunnel: $ROUNDS rounds of iperf3 TCP h1 -> h2, ${SECONDS_EACH}s each, tunnel MTU $MTU; tunnels on CPU $MEASURED_CPU, iperf3 on $LOAD_CPUS; today's build: $BASELINE_REF" >&2
order=(new old socat new-keyed wg old-keyed raw)
declare -A ADDR=([new]=10.8.0.2 [old]=10.8.1.2 [new-keyed]=10.8.2.2 [old-keyed]=10.8.3.2 [socat]=10.8.9.2 [wg]=10.8.8.2 [raw]=192.0.2.2)
for r in $(seq 1 "$ROUNDS"); do
	echo "  round $r: ${order[*]}" >&2
	for who in "${order[@]}"; do measure "$who" "${ADDR[$who]}"; done
	order=("${order[@]:1}" "${order[0]}")
done

N="udp-tunnel ($PATH_NEW)"
row_rounds "iperf3 TCP, no key: $N vs socat" new socat Mbit/s "x>=5"
row_rounds "  ... vs today's build" new old Mbit/s -
row_rounds "  ... today's build vs socat" old socat Mbit/s -
row_rounds "iperf3 TCP, ChaCha20-Poly1305 ($AEAD_NEW) vs socat" new-keyed socat Mbit/s "x>=2"
row_rounds "  ... vs today's build (node:crypto)" new-keyed old-keyed Mbit/s -
row_rounds "  ... today's build vs socat" old-keyed socat Mbit/s -
row_rounds "  ... vs wireguard-go (ChaCha20-Poly1305 too)" new-keyed wg Mbit/s "x>=3"
row_rounds "raw underlay vs socat (the limit here)" raw socat Mbit/s -
row_rounds "CPU-seconds per Gbit (both ends), no key: this build vs today's" cpu_new cpu_old s/Gbit -
row_rounds "  ... with the key: this build vs today's" cpu_new-keyed cpu_old-keyed s/Gbit -
row_rounds "  ... with the key: this build vs wireguard-go" cpu_new-keyed cpu_wg s/Gbit "x<=1"
row_rounds "  ... socat vs today's build (no key)" cpu_socat cpu_old s/Gbit -
echo
print_table
