#!/usr/bin/env bash
# Benchmarks ssdp-proxy between two sites in network namespaces this script creates
# and removes (no traffic leaves them): minidlna on site A's LAN, clients on B's.
# Goals are reported (ok / MISSED), never asserted: the exit status is non-zero only
# when the bench cannot run.
#
# Usage: scripts/bench-ssdp-proxy.sh   (as root; needs dist/ssdp-proxy-linux-x64,
#        minidlna, python3; about 40 s)
#
#   alan 192.168.1.10 (minidlna) - arouter 10.0.0.1 --routed veth-- 10.0.0.2 brouter - blan 192.168.2.10
#
# Measures:
#   discovery: SSDPB_ROUNDS (50) rounds of 4 concurrent clients on B searching for
#              minidlna's MediaServer; success (goal 100 %)
#   latency:   median time from M-SEARCH to the first reply, relayed (from B) vs the
#              same search on minidlna's own LAN (goal: relay adds < 5 ms)
#   NOTIFY:    NOTIFYs blasted on A's LAN for SSDPB_SECONDS (3); relayed NOTIFYs per
#              second that arrive on B's LAN through one proxy pair
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C

ROUNDS=${SSDPB_ROUNDS:-50}
SECS=${SSDPB_SECONDS:-3}
SP=${BENCH_SSDP_PROXY:-dist/ssdp-proxy-linux-x64}
TOOL=scripts/bench/ssdpbench.py
MS='urn:schemas-upnp-org:device:MediaServer:1'

BENCH_NAME=bench-ssdp-proxy
# shellcheck source=scripts/bench/lib.sh
. scripts/bench/lib.sh

[ "$(id -u)" = 0 ] || die "needs root for network namespaces; run: sudo scripts/bench-ssdp-proxy.sh"
for c in ip python3 minidlnad curl; do
	command -v "$c" >/dev/null || die "missing command '$c'; install it (apt-get install iproute2 python3 minidlna curl)"
done
[ -x "$SP" ] || die "$SP is missing; run: node scripts/build.mjs --target linux-x64 ssdp-proxy"

bench_begin udm-bench-ssdp ssdpb

json() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

# ------------------------------------------------------------ lab
for n in alan arouter brouter blan; do
	ip netns add "$P$n"
	NSS+=("$P$n")
	ns "$n" ip link set lo up
done
p2p() { # NS1 IF1 ADDR1 NS2 IF2 ADDR2
	ip link add "$2" netns "$P$1" type veth peer name "$5" netns "$P$4"
	ns "$1" ip addr add "$3" dev "$2"
	ns "$4" ip addr add "$6" dev "$5"
	ns "$1" ip link set "$2" up
	ns "$4" ip link set "$5" up
}
p2p alan eth0 192.168.1.10/24 arouter lan0 192.168.1.1/24
p2p blan eth0 192.168.2.10/24 brouter lan0 192.168.2.1/24
p2p arouter vpn 10.0.0.1/30 brouter vpn 10.0.0.2/30
ns alan ip route add default via 192.168.1.1
ns blan ip route add default via 192.168.2.1
ns arouter sysctl -qw net.ipv4.ip_forward=1
ns brouter sysctl -qw net.ipv4.ip_forward=1
ns arouter ip route add 192.168.2.0/24 via 10.0.0.2
ns brouter ip route add 192.168.1.0/24 via 10.0.0.1

python3 -c 'import secrets; print(secrets.token_hex(32))' >"$TMP/key"
for s in a b; do
	peer=$([ $s = a ] && echo 10.0.0.2 || echo 10.0.0.1)
	bg "${s}router" "$TMP/$s.out" "$SP" --lan lan0 --peer "$peer" --key-file "$TMP/key" \
		--control-socket "$TMP/$s.sock" --log "$TMP/$s.log"
done
wait_until 10 "the proxies" test -S "$TMP/a.sock" -a -S "$TMP/b.sock"

mkdir -p "$TMP/media" "$TMP/mdb" "$TMP/mlog"
cat >"$TMP/minidlna.conf" <<EOF
media_dir=A,$TMP/media
db_dir=$TMP/mdb
log_dir=$TMP/mlog
port=8200
network_interface=eth0
friendly_name=bench-minidlna
inotify=no
EOF
bg alan "$TMP/minidlna.out" minidlnad -f "$TMP/minidlna.conf" -P "$TMP/minidlna.pid" -d
wait_until 10 "minidlna" ns alan curl -fsS -o /dev/null http://192.168.1.10:8200/rootDesc.xml
sleep 1

# ------------------------------------------------------------ measure
echo "bench-ssdp-proxy: $ROUNDS rounds x 4 concurrent clients; NOTIFY blast ${SECS}s" >&2
DIRECT=$(ns alan python3 "$TOOL" search "$ROUNDS" 4 "$MS" 1.5)
RELAYED=$(ns blan python3 "$TOOL" search "$ROUNDS" 4 "$MS" 1.5)

bg blan "$TMP/count.out" python3 "$TOOL" count "$((SECS + 3))" urn:x-bench:blast
COUNT_PID=$BG_PID
wait_until 5 "the NOTIFY counter" grep -q ready "$TMP/count.out"
BLAST=$(ns alan python3 "$TOOL" blast "$SECS")
wait "$COUNT_PID" || true
COUNT=$(tail -1 "$TMP/count.out")
ns brouter "$SP" status --control-socket "$TMP/b.sock" >"$TMP/b-status.txt" 2>&1 || true

d_ms=$(json "$DIRECT" median_ms)
r_ms=$(json "$RELAYED" median_ms)
r_pct=$(json "$RELAYED" success_pct)
added=$(awk -v a="$r_ms" -v b="$d_ms" 'BEGIN { if (a == "None" || b == "None") print "n/a"; else printf "%.2f", a - b }')
ok_pct=$(awk -v p="$r_pct" 'BEGIN { print (p >= 100 ? "ok" : "MISSED") }')
ok_ms=$(awk -v a="$added" 'BEGIN { print (a != "n/a" && a < 5 ? "ok" : "MISSED") }')

printf '\n%-44s %10s %10s  %s\n' "ssdp-proxy" "direct" "relayed" "goal"
printf '%-44s %10s %10s  %s\n' "discovery success, $ROUNDS x 4 clients (%)" "$(json "$DIRECT" success_pct)" "$r_pct" "100 %: $ok_pct"
printf '%-44s %10s %10s  %s\n' "M-SEARCH to first reply, median (ms)" "$d_ms" "$r_ms" "relay adds < 5 ms ($added): $ok_ms"
printf '%-44s %10s %10s\n' "NOTIFY sent on A / relayed to B per second" "$(awk -v n="$(json "$BLAST" sent)" -v s="$SECS" 'BEGIN { printf "%d", n / s }')" "$(json "$COUNT" per_second)"
printf '%-44s %10s %10s\n' "NOTIFY sent / arrived on B (total)" "$(json "$BLAST" sent)" "$(json "$COUNT" received)"
