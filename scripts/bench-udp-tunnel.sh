#!/usr/bin/env bash
# Benchmarks udp-tunnel: iperf3 TCP through one tunnel, against a socat TUN tunnel
# (Debian socat: a C userspace tunnel of the same design, IP packet as UDP payload)
# and against the raw underlay (the limit here). udp-tunnel runs twice: without a key
# (the original's wire format) and with one (ChaCha20-Poly1305). Two hosts of the
# udp-tunnel lab (test/lab/udp-tunnel.sh) in network namespaces this script creates and
# removes; no traffic leaves them. Goals are reported (ok / MISSED, scripts/bench/table.sh),
# never asserted: the exit status is non-zero only when the bench cannot run.
#
# Usage: scripts/bench-udp-tunnel.sh   (as root; needs dist/udp-tunnel-linux-x64,
#        iperf3, socat, python3; about 30 s)
#
#   h1 192.0.2.1 --underlay bridge-- 192.0.2.2 h2      tunnel 10.8.0.1 <-> 10.8.0.2, MTU 1400
#
# UTB_SECONDS (5): length of each iperf3 run.
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C

SECONDS_EACH=${UTB_SECONDS:-5}
UT=${BENCH_UDP_TUNNEL:-dist/udp-tunnel-linux-x64}
MTU=1400

LAB_PREFIX=utb$$-
# shellcheck source=test/lab/lib.sh
. test/lab/lib.sh
# shellcheck source=test/lab/udp-tunnel.sh
. test/lab/udp-tunnel.sh
# shellcheck source=scripts/bench/table.sh
. scripts/bench/table.sh

need_root
need_cmd ip iperf3 socat python3
[ -x "$UT" ] || die "$UT is missing; run: node scripts/build.mjs --target linux-x64 udp-tunnel"

# ------------------------------------------------------------ lab
tunnel_underlay_up
for n in 1 2; do
	tunnel_host_add "$n"
	# No IPv6 chatter (router solicitations) through the tunnels under test.
	ns_sysctl "h$n" net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1
done
head -c 32 /dev/urandom | base64 >"$LAB_TMP/key"

# iperf3_mbps ADDR : TCP h1 -> h2 for SECONDS_EACH, Mbit/s received
iperf3_mbps() {
	bg_in h2 "$LAB_TMP/iperf3-s.out" iperf3 -s -1 -B "$1"
	local srv=$LAB_BG_PID
	wait_until 5 "iperf3 server on $1" bash -c "ip netns exec $(ns_name h2) ss -ltn | grep -q '$1:5201'"
	nsx h1 iperf3 -c "$1" -t "$SECONDS_EACH" -J >"$LAB_TMP/iperf3-c.json" 2>&1 || die "iperf3 to $1 failed: $(tail -5 "$LAB_TMP/iperf3-c.json")"
	wait "$srv" 2>/dev/null || true
	bg_stop "$srv"
	python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e6))' "$LAB_TMP/iperf3-c.json"
}

tunnel_up() { nsx h1 ping -c 1 -W 1 10.8.0.2; }

# ------------------------------------------------------------ runs
echo "bench-udp-tunnel: iperf3 TCP h1 -> h2, ${SECONDS_EACH}s each, tunnel MTU $MTU" >&2
RAW=$(iperf3_mbps 192.0.2.2)

# UDP-DATAGRAM (unconnected): an ICMP port unreachable while the other end starts
# would make a connected socat exit.
bg_in h1 "$LAB_TMP/socat-a.out" socat UDP-DATAGRAM:192.0.2.2:6000,bind=192.0.2.1:6000 TUN:10.8.0.1/24,tun-name=stun0,iff-no-pi,iff-up
SA=$LAB_BG_PID
bg_in h2 "$LAB_TMP/socat-b.out" socat UDP-DATAGRAM:192.0.2.1:6000,bind=192.0.2.2:6000 TUN:10.8.0.2/24,tun-name=stun0,iff-no-pi,iff-up
SB=$LAB_BG_PID
wait_until 5 "socat tun devices" bash -c "ip -n $(ns_name h1) link show stun0 && ip -n $(ns_name h2) link show stun0"
nsx h1 ip link set stun0 mtu "$MTU"
nsx h2 ip link set stun0 mtu "$MTU"
wait_until 5 "the socat tunnel" tunnel_up
SOCAT=$(iperf3_mbps 10.8.0.2)
bg_stop "$SA"
bg_stop "$SB"

# run_udp_tunnel LABEL [serve flags...] : Mbit/s through a udp-tunnel pair
run_udp_tunnel() {
	local label=$1 pa pb
	shift
	bg_in h1 "$LAB_TMP/$label-a.out" "$UT" serve --control-socket "$LAB_TMP/$label-a.sock" --log "$LAB_TMP/$label-a.log" "$@"
	pa=$LAB_BG_PID
	bg_in h2 "$LAB_TMP/$label-b.out" "$UT" serve --control-socket "$LAB_TMP/$label-b.sock" --log "$LAB_TMP/$label-b.log" "$@"
	pb=$LAB_BG_PID
	wait_until 10 "udp-tunnel ($label) on h1" nsx h1 "$UT" status --control-socket "$LAB_TMP/$label-a.sock"
	wait_until 10 "udp-tunnel ($label) on h2" nsx h2 "$UT" status --control-socket "$LAB_TMP/$label-b.sock"
	nsx h1 "$UT" ctl -s 127.0.0.1 -o add -n ut0 -t 10.8.0.1 -m 24 --mtu "$MTU" -r 192.0.2.2 >/dev/null
	nsx h2 "$UT" ctl -s 127.0.0.1 -o add -n ut0 -t 10.8.0.2 -m 24 --mtu "$MTU" -r 192.0.2.1 >/dev/null
	wait_until 5 "the udp-tunnel ($label) tunnel" tunnel_up
	iperf3_mbps 10.8.0.2
	nsx h1 "$UT" ctl -s 127.0.0.1 -o list >"$LAB_TMP/$label-list.txt" 2>&1 || true
	bg_stop "$pa"
	bg_stop "$pb"
}
PLAIN=$(run_udp_tunnel plain)
KEYED=$(run_udp_tunnel keyed --key-file "$LAB_TMP/key")

row "iperf3 TCP: raw underlay vs socat" "$RAW" "$SOCAT" Mbit/s -
row "iperf3 TCP: socat TUN tunnel vs raw" "$SOCAT" "$RAW" Mbit/s -
row "iperf3 TCP: udp-tunnel, no key vs socat" "$PLAIN" "$SOCAT" Mbit/s "x>=1.0"
row "iperf3 TCP: udp-tunnel, no key vs raw" "$PLAIN" "$RAW" Mbit/s -
row "iperf3 TCP: udp-tunnel, ChaCha20-Poly1305 vs socat" "$KEYED" "$SOCAT" Mbit/s "x>=0.5"
row "iperf3 TCP: udp-tunnel, ChaCha20-Poly1305 vs raw" "$KEYED" "$RAW" Mbit/s -
echo
print_table
