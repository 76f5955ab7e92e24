#!/usr/bin/env bash
# Benchmarks udp-tunnel: iperf3 TCP through one tunnel, against a socat TUN tunnel
# (Debian socat: a C userspace tunnel of the same design, IP packet as UDP payload)
# and against the raw underlay (the limit here). udp-tunnel runs twice: without a key
# (the original's wire format) and with one (ChaCha20-Poly1305). Two network
# namespaces this script creates and removes; no traffic leaves them. Goals are
# reported (ok / MISSED), never asserted: the exit status is non-zero only when the
# bench cannot run.
#
# Usage: scripts/bench-udp-tunnel.sh   (as root; needs dist/udp-tunnel-linux-x64,
#        iperf3, socat, python3; about 30 s)
#
#   a 192.0.2.1 --veth-- 192.0.2.2 b      tunnel 10.8.0.1 <-> 10.8.0.2, MTU 1400
#
# UTB_SECONDS (5): length of each iperf3 run.
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C

SECONDS_EACH=${UTB_SECONDS:-5}
UT=${BENCH_UDP_TUNNEL:-dist/udp-tunnel-linux-x64}
MTU=1400

BENCH_NAME=bench-udp-tunnel
# shellcheck source=scripts/bench/lib.sh
. scripts/bench/lib.sh

[ "$(id -u)" = 0 ] || die "needs root for network namespaces; run: sudo scripts/bench-udp-tunnel.sh"
for c in ip iperf3 socat python3; do
	command -v "$c" >/dev/null || die "missing command '$c'; install it (apt-get install iproute2 iperf3 socat python3)"
done
[ -x "$UT" ] || die "$UT is missing; run: node scripts/build.mjs --target linux-x64 udp-tunnel"

bench_begin udm-bench-tun utb


# ------------------------------------------------------------ lab
for n in a b; do
	ip netns add "$P$n"
	NSS+=("$P$n")
	ns "$n" ip link set lo up
	# No IPv6 chatter (router solicitations) through the tunnels under test.
	ns "$n" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1
done
ip link add eth0 netns "${P}a" type veth peer name eth0 netns "${P}b"
ns a ip addr add 192.0.2.1/24 dev eth0
ns b ip addr add 192.0.2.2/24 dev eth0
ns a ip link set eth0 up
ns b ip link set eth0 up
head -c 32 /dev/urandom | base64 >"$TMP/key"

# iperf3_mbps ADDR : TCP a -> b for SECONDS_EACH, Mbit/s received
iperf3_mbps() {
	bg b "$TMP/iperf3-s.out" iperf3 -s -1 -B "$1"
	local srv=$BG_PID
	wait_until 5 "iperf3 server on $1" bash -c "ip netns exec ${P}b ss -ltn | grep -q '$1:5201'"
	ns a iperf3 -c "$1" -t "$SECONDS_EACH" -J >"$TMP/iperf3-c.json" 2>&1 || die "iperf3 to $1 failed: $(tail -5 "$TMP/iperf3-c.json")"
	wait "$srv" 2>/dev/null || true
	stop_bg "$srv"
	python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e6))' "$TMP/iperf3-c.json"
}

tunnel_up() { ns a ping -c 1 -W 1 10.8.0.2; }

# ------------------------------------------------------------ runs
echo "bench-udp-tunnel: iperf3 TCP a -> b, ${SECONDS_EACH}s each, tunnel MTU $MTU" >&2
RAW=$(iperf3_mbps 192.0.2.2)

# UDP-DATAGRAM (unconnected): an ICMP port unreachable while the other end starts
# would make a connected socat exit.
bg a "$TMP/socat-a.out" socat UDP-DATAGRAM:192.0.2.2:6000,bind=192.0.2.1:6000 TUN:10.8.0.1/24,tun-name=stun0,iff-no-pi,iff-up
SA=$BG_PID
bg b "$TMP/socat-b.out" socat UDP-DATAGRAM:192.0.2.1:6000,bind=192.0.2.2:6000 TUN:10.8.0.2/24,tun-name=stun0,iff-no-pi,iff-up
SB=$BG_PID
wait_until 5 "socat tun devices" bash -c "ip -n ${P}a link show stun0 && ip -n ${P}b link show stun0"
ns a ip link set stun0 mtu "$MTU"
ns b ip link set stun0 mtu "$MTU"
wait_until 5 "the socat tunnel" tunnel_up
SOCAT=$(iperf3_mbps 10.8.0.2)
stop_bg "$SA"
stop_bg "$SB"

# run_udp_tunnel LABEL [serve flags...] : Mbit/s through a udp-tunnel pair
run_udp_tunnel() {
	local label=$1 pa pb
	shift
	bg a "$TMP/$label-a.out" "$UT" serve --control-socket "$TMP/$label-a.sock" --log "$TMP/$label-a.log" "$@"
	pa=$BG_PID
	bg b "$TMP/$label-b.out" "$UT" serve --control-socket "$TMP/$label-b.sock" --log "$TMP/$label-b.log" "$@"
	pb=$BG_PID
	wait_until 10 "udp-tunnel ($label) on a" ns a "$UT" status --control-socket "$TMP/$label-a.sock"
	wait_until 10 "udp-tunnel ($label) on b" ns b "$UT" status --control-socket "$TMP/$label-b.sock"
	ns a "$UT" ctl -s 127.0.0.1 -o add -n ut0 -t 10.8.0.1 -m 24 --mtu "$MTU" -r 192.0.2.2 >/dev/null
	ns b "$UT" ctl -s 127.0.0.1 -o add -n ut0 -t 10.8.0.2 -m 24 --mtu "$MTU" -r 192.0.2.1 >/dev/null
	wait_until 5 "the udp-tunnel ($label) tunnel" tunnel_up
	iperf3_mbps 10.8.0.2
	ns a "$UT" ctl -s 127.0.0.1 -o list >"$TMP/$label-list.txt" 2>&1 || true
	stop_bg "$pa"
	stop_bg "$pb"
}
PLAIN=$(run_udp_tunnel plain)
KEYED=$(run_udp_tunnel keyed --key-file "$TMP/key")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }'; }
goal() { awk -v a="$1" -v b="$2" -v g="$3" 'BEGIN { if (b > 0 && a / b >= g) print "ok"; else print "MISSED" }'; }

printf '\n%-32s %10s %9s %9s  %s\n' "iperf3 TCP (Mbit/s)" "Mbit/s" "vs socat" "vs raw" "goal"
printf '%-32s %10s %9s %9s  %s\n' "raw underlay" "$RAW" "$(ratio "$RAW" "$SOCAT")" "1.00x" "-"
printf '%-32s %10s %9s %9s  %s\n' "socat TUN tunnel" "$SOCAT" "1.00x" "$(ratio "$SOCAT" "$RAW")" "-"
printf '%-32s %10s %9s %9s  %s\n' "udp-tunnel, no key" "$PLAIN" "$(ratio "$PLAIN" "$SOCAT")" "$(ratio "$PLAIN" "$RAW")" ">= 1.0x socat: $(goal "$PLAIN" "$SOCAT" 1.0)"
printf '%-32s %10s %9s %9s  %s\n' "udp-tunnel, ChaCha20-Poly1305" "$KEYED" "$(ratio "$KEYED" "$SOCAT")" "$(ratio "$KEYED" "$RAW")" ">= 0.5x socat: $(goal "$KEYED" "$SOCAT" 0.5)"
