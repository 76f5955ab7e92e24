#!/usr/bin/env bash
# shellcheck disable=SC2317 # helpers are invoked through probe
# scripts/dev/fuzz/live.sh - the live flood of `make fuzz`: every x64 executable running in
# its lab (test/lab/), flooded on every input with random, truncated, oversized and
# mutated datagrams and frames (scripts/dev/fuzz/flood.ts), plus the floods of issue 15 (a
# source-port flood of udp-proxy, a pending-table flood of ssdp-proxy, oversized data to
# udp-tunnel, and udp-proxy's metrics endpoint with malformed requests and held connections,
# scripts/dev/fuzz/http-flood.py), while a legitimate client keeps using it. One table per daemon: inputs
# sent, what the daemon counted, crashes, the legitimate client's success during the
# flood and in the minute after, and memory before, at the peak and a minute after.
# Goals are reported (ok or MISSED), not asserted; a crash makes the run fail.
#
# Usage (root): scripts/dev/fuzz/live.sh   (env SEED: the floods' seed; ~3 min)
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
. "$root/test/lab/lib.sh"
. "$root/scripts/dev/bench/table.sh"
need_root
need_cmd ip nft dnsmasq dig python3 node ping minidlnad curl
SEED=${SEED:-15}
T=$LAB_TMP
lab_exe MP mld-proxy
lab_exe SP ssdp-proxy
lab_exe UP udp-proxy
lab_exe UT udp-tunnel
. "$root/test/lab/mld-proxy.sh"
. "$root/test/lab/ssdp-proxy.sh"
. "$root/test/lab/udp-proxy.sh"
. "$root/test/lab/udp-tunnel.sh"

now_ms() { date +%s%3N; }
declare -A PID=() START=() END=() SENT=()
NAMES=(mld ssdp udp-proxy tunnel tunnel-keyed)
# flood NAME NS WHAT ARGS... : one run of flood.ts from namespace NS; WHAT and the count sent
# go into NAME's table
flood() {
	local name=$1 ns=$2 what=$3 out
	shift 3
	out=$(cd "$root" && nsx "$ns" node -r esbuild-register scripts/dev/fuzz/flood.ts "$@" --seed "$SEED") || out='{"sent":0}'
	SENT[$name]+="$what|$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["sent"])' "$out");"
}
# sample NAME PID : VmRSS and RssAnon (kB) every 0.5 s, "ms rss anon", until $T/stop
sample() {
	while [ ! -e "$T/stop" ]; do
		awk -v t="$(now_ms)" '/^VmRSS:/ { r = $2 } /^RssAnon:/ { a = $2 } END { if (r) print t, r, a }' "/proc/$2/status" >>"$T/$1.mem" 2>/dev/null || true
		sleep 0.5
	done
}
# probe NAME SECS CMD... : the legitimate client, every SECS: "ms ok|fail" to $T/NAME.legit
probe() {
	local name=$1 every=$2 r
	shift 2
	while [ ! -e "$T/stop" ]; do
		if "$@" >/dev/null 2>&1; then r=ok; else r=fail; fi
		echo "$(now_ms) $r" >>"$T/$name.legit"
		sleep "$every"
	done
}
observe() { # NAME PID SECS CMD...: sample its memory and probe it in the background
	PID[$1]=$2
	sample "$1" "$2" &
	bg_track $!
	probe "$1" "${@:3}" &
	bg_track $!
}
status_json() { nsx "$1" "$2" status --json --control-socket "$3" 2>/dev/null; }

# ------------------------------------------------------------------ the labs and daemons
echo "== live flood, seed $SEED: bringing up the labs"
# mld-proxy: the bench's quiet lab; its LAN host's NS are injected.
mld_quiet_topology_up
mld_proxy_start "$MP"
mld_legit() {
	(cd "$root" && nsx host node -r esbuild-register test/e2e/ndp-inject.ts "$HOST_IF" --ns "$HOST_ADDR" "$RTR_WAN_ADDR") &&
		sleep 0.3 && ip -n "$RTR_NS" -6 maddr show dev "$RTR_WAN" | grep -q "$HOST_SNMA" &&
		status_json rtr "$MP" "$T/mld-proxy.sock" | python3 -c "
import json, sys, time
s = json.load(sys.stdin)
a = [x for x in s['addresses'] if x['address'] == '$HOST_ADDR']
sys.exit(0 if a and time.time() * 1000 - a[0]['lastSeen'] < 3000 else 1)"
}
require_wait 10 "mld-proxy learns the LAN host" mld_legit

# ssdp-proxy: sites A (minidlna) and B, relaying mDNS too; B has a second LAN, lan1, where
# the hostile host bflood lives; the legitimate client searches from B's lan0.
ssdp_topology_up a b
lan_up a 1
lan_up b 2
ns_add bflood
p2p bflood eth0 192.168.22.10/24 brouter lan1 192.168.22.1/24
nsx bflood ip route add default via 192.168.22.1
ssdp_helpers_write
minidlna_up
conf a '["lan0"]' '["10.0.0.2"]' '"mdns": true'
conf b '["lan0", "lan1"]' '["10.0.0.1"]' '"mdns": true'
ssdp_proxy_start a "$SP"
ssdp_proxy_start b "$SP"
SSDP_B=$LAB_BG_PID
ssdp_legit() { nsx blan python3 "$PY" search urn:schemas-upnp-org:device:MediaServer:1 1 2 | grep -q '192.168.1.10:8200'; }
require_wait 15 "ssdp-proxy: a search on B's LAN finds minidlna on A's" ssdp_legit

# udp-proxy: the hostile client 10.0.1.2, the legitimate one 10.0.1.3 on the same link.
udp_topology_up
nsx client ip addr add 10.0.1.3/24 dev c0
udp_proxy_start "$UP" --listen 10.0.1.1:53 --upstream 10.0.2.254:53 --reply-alias 10.0.2.2 --log "$T/udp-proxy.log" \
	--metrics-listen 10.0.1.1:9813 --metrics-allow 10.0.1.2/32
udp_legit() { [ "$(nsx client dig +short +tries=1 +time=1 -b 10.0.1.3 @10.0.1.1 svc.test A)" = 192.0.2.53 ]; }
require_wait 5 "udp-proxy: dig from the legitimate client" udp_legit

# udp-tunnel: h1 and h2, a keyless daemon (5000/5001) and a keyed one (5100/5101) on each,
# a tunnel of each kind between them; mallory is a stranger on the underlay.
tunnel_underlay_up
tunnel_host_add 1
tunnel_host_add 2
tunnel_underlay_add mallory 192.0.2.66
head -c 32 /dev/urandom | base64 >"$T/tunnel.key"
declare -A KL=() KY=()
for h in h1 h2; do
	tunnel_serve_start "$h" "$UT"
	KL[$h]=$LAB_BG_PID
	daemon_start "$h" "$h-k" "keyed udp-tunnel on $h" "$UT" serve -dp 5100 -cp 5101 --control-address 0.0.0.0 \
		--key-file "$T/tunnel.key" --control-socket "$T/$h-k.sock" --log "$T/$h-k.log"
	KY[$h]=$LAB_BG_PID
done
for i in 1 2; do
	j=$((3 - i))
	nsx "h$i" "$UT" ctl -s 127.0.0.1 -o add -n ut0 -t "10.8.0.$i" -m 24 -r "192.0.2.$j" >/dev/null
	nsx "h$i" "$UT" ctl -s "192.0.2.$i" -p 5101 --key-file "$T/tunnel.key" -o add -n uk -t "10.9.0.$i" -m 24 -r "192.0.2.$j" >/dev/null
done
tunnel_legit() { nsx h1 ping -c 1 -W 1 10.8.0.2; }
tunnel_keyed_legit() { nsx h1 ping -c 1 -W 1 10.9.0.2; }
require_wait 5 "udp-tunnel: ping through the keyless tunnel" tunnel_legit
require_wait 5 "udp-tunnel: ping through the keyed tunnel" tunnel_keyed_legit

observe mld "$MP_PID" 0.5 mld_legit
observe ssdp "$SSDP_B" 0.5 ssdp_legit
observe udp-proxy "$UP_PID" 1 udp_legit
observe tunnel "${KL[h1]}" 1 tunnel_legit
observe tunnel-keyed "${KY[h1]}" 1 tunnel_keyed_legit
sleep 5 # a few samples and probes before any flood

# ------------------------------------------------------------------ the floods
echo "== mld-proxy: junk, mutated NDP and a table flood on its AF_PACKET capture"
START[mld]=$(now_ms)
flood mld host "random/runt/full-size frames" frames "$HOST_IF" 60000 junk
flood mld host "mutated or truncated NS/NA" frames "$HOST_IF" 60000 ndp
flood mld host "valid NS, new address each (table flood)" frames "$HOST_IF" 10000 table
END[mld]=$(now_ms)

echo "== ssdp-proxy (site B, --mdns): its SSDP and mDNS LAN sockets, a pending-table flood, its relay port"
START[ssdp]=$(now_ms)
flood ssdp bflood "LAN: random datagrams" udp 239.255.255.250 1900 20000 random
flood ssdp bflood "LAN: mutated or truncated SSDP" udp 239.255.255.250 1900 20000 ssdp
flood ssdp bflood "LAN: oversized (65507 B)" udp 239.255.255.250 1900 300 oversized
flood ssdp bflood "LAN: M-SEARCH, a new ST each (pending flood)" udp 239.255.255.250 1900 5000 searches
flood ssdp bflood "LAN mDNS: mutated or truncated" udp 224.0.0.251 5353 20000 mdns
flood ssdp bflood "LAN mDNS: random" udp 224.0.0.251 5353 10000 random
flood ssdp bflood "LAN mDNS: oversized" udp 224.0.0.251 5353 300 oversized
flood ssdp arouter "relay, from the peer: altered frames" udp 10.0.0.2 1901 20000 frame --key "$KEY"
flood ssdp arouter "relay, from the peer: random" udp 10.0.0.2 1901 10000 random
flood ssdp arouter "relay, from the peer: oversized" udp 10.0.0.2 1901 300 oversized
flood ssdp bflood "relay, from a stranger: random" udp 192.168.22.1 1901 10000 random
END[ssdp]=$(now_ms)

echo "== udp-proxy: a source-port flood from one host, oversized and random datagrams"
START[udp-proxy]=$(now_ms)
for r in 1 2 3; do flood udp-proxy client "DNS queries from 10000 source ports (round $r)" udp 10.0.1.1 53 10000 dns --ports 10000; done
flood udp-proxy client "oversized (65507 B)" udp 10.0.1.1 53 1000 oversized
flood udp-proxy client "random" udp 10.0.1.1 53 20000 random
# flood_http NAME NS WHAT ARGS... : like flood, with the metrics endpoint's flood
flood_http() {
	local out
	out=$(nsx "$2" python3 "$root/scripts/dev/fuzz/http-flood.py" "${@:4}" --seed "$SEED") || out='{"sent":0}'
	SENT[$1]+="$3|$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["sent"])' "$out");"
}
flood_http udp-proxy client "metrics: malformed requests, held connections" 10.0.1.1 9813 3000
flood_http udp-proxy client "metrics: connections from outside the allow list" 10.0.1.1 9813 2000 --bind 10.0.1.3
END[udp-proxy]=$(now_ms)

echo "== udp-tunnel: oversized and random data from a stranger and the peer, hostile control"
START[tunnel]=$(now_ms)
START[tunnel-keyed]=${START[tunnel]}
flood tunnel mallory "data from a stranger: oversized" udp 192.0.2.1 5000 500 oversized
flood tunnel mallory "data from a stranger: random" udp 192.0.2.1 5000 10000 random
flood tunnel h2 "data from the peer: random" udp 192.0.2.1 5000 10000 random
flood tunnel h2 "data from the peer: oversized" udp 192.0.2.1 5000 500 oversized
flood tunnel-keyed mallory "data from a stranger: oversized" udp 192.0.2.1 5100 500 oversized
flood tunnel-keyed mallory "data from a stranger: random" udp 192.0.2.1 5100 10000 random
flood tunnel-keyed h2 "data from the peer: altered or oversized" udp 192.0.2.1 5100 10000 sealed --key "$T/tunnel.key"
flood tunnel-keyed mallory "control: altered signed, random bodies" udp 192.0.2.1 5101 10000 control --key "$T/tunnel.key"
flood tunnel-keyed mallory "control: oversized" udp 192.0.2.1 5101 300 oversized
END[tunnel]=$(now_ms)
END[tunnel-keyed]=${END[tunnel]}

# Statuses now, while the counters are fresh; the memory a minute after each flood.
status_json rtr "$MP" "$T/mld-proxy.sock" >"$T/mld.status" || true
status_json brouter "$SP" "$T/b.sock" >"$T/ssdp.status" || true
status_json proxy "$UP" "$T/udp-proxy.sock" >"$T/udp-proxy.status" || true
nsx proxy "$UP" metrics --control-socket "$T/udp-proxy.sock" 2>/dev/null | grep '^udm_proxies_metrics_' | tr ' ' '|' >"$T/udp-proxy.metrics" || true
status_json h1 "$UT" "$T/h1.sock" >"$T/tunnel.status" || true
status_json h1 "$UT" "$T/h1-k.sock" >"$T/tunnel-keyed.status" || true
last=0
for n in "${NAMES[@]}"; do [ "${END[$n]}" -le "$last" ] || last=${END[$n]}; done
echo "== waiting a minute after the last flood"
wait_s=$((60 - ($(now_ms) - last) / 1000 + 1))
[ "$wait_s" -le 0 ] || sleep "$wait_s"
touch "$T/stop"
sleep 1

# ------------------------------------------------------------------ the tables
crashes_total=0
report() { # NAME TITLE
	local n=$1 crashed=0 stats
	BENCH_ROWS=()
	local IFS=';'
	for s in ${SENT[$n]}; do row "sent: ${s%|*}" "${s##*|}" - "" -; done
	unset IFS
	python3 -c '
import json, sys
skip = {"startedAt", "now", "addedAt", "lastRx", "lastSeen", "openedAt", "port", "localPort", "dataPort", "keepaliveMs",
        "timeoutMs", "maxAddresses", "maxPending", "maxPendingPerHost", "idleTimeoutMs", "maxSessions", "mtu", "replies",
        "batch", "maxSessionsPerClient", "rate", "releasedBytes"}
def walk(v, path):
    if isinstance(v, dict):
        for k, x in v.items():
            if k not in skip and k not in ("addresses", "sessions"): walk(x, f"{path}.{k}" if path else k)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            walk(x, f"{path}[{i}]")
    elif isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0:
        print(f"{path}|{v}")
text = open(sys.argv[1]).read()
walk(json.loads(text) if text.strip() else {}, "")' "$T/$n.status" >"$T/$n.counts"
	while IFS='|' read -r what value; do row "counted: $what" "$value" - "" -; done <"$T/$n.counts"
	if [ -e "$T/$n.metrics" ]; then while IFS='|' read -r what value; do row "counted: $what" "$value" - "" -; done <"$T/$n.metrics"; fi
	bg_alive "${PID[$n]}" || crashed=1
	crashes_total=$((crashes_total + crashed))
	row "crashes" "$crashed" - "" "<1"
	stats=$(awk -v s="${START[$n]}" -v e="${END[$n]}" '
		$1 >= s && $1 <= e { d++; if ($2 == "ok") dok++ }
		$1 > e + 5000 && $1 <= e + 60000 { a++; if ($2 == "ok") aok++ }
		END { printf "%d %d %d %d", dok, d, aok, a }' "$T/$n.legit")
	read -r dok d aok a <<<"$stats"
	row "legit during ($dok of $d)" "$([ "$d" -gt 0 ] && echo $((100 * dok / d)) || echo -)" - "%" -
	row "legit after ($aok of $a)" "$([ "$a" -gt 0 ] && echo $((100 * aok / a)) || echo -)" - "%" ">=100"
	stats=$(awk -v s="${START[$n]}" -v e="${END[$n]}" '
		$1 < s { br = $2; ba = $3 }
		$1 >= s && $1 <= e + 5000 { if ($2 > pr) pr = $2; if ($3 > pa) pa = $3 }
		$1 <= e + 60000 { ar = $2; aa = $3 }
		END { printf "%d %d %d %d %d %d", br / 1024, ba / 1024, pr / 1024, pa / 1024, ar / 1024, aa / 1024 }' "$T/$n.mem")
	read -r br ba pr pa ar aa <<<"$stats"
	row "VmRSS at the peak" "$pr" "$br" MB -
	row "VmRSS a minute after" "$ar" "$br" MB -
	row "RssAnon at the peak" "$pa" "$ba" MB -
	row "RssAnon a minute after" "$aa" "$ba" MB -
	row "RssAnon growth at the peak" "$((pa - ba))" - MB "<20"
	row "RssAnon growth a minute after" "$((aa - ba))" - MB "<10"
	echo
	echo "== $2, pid ${PID[$n]} (baseline: before the flood)"
	print_table
}
report mld "mld-proxy"
report ssdp "ssdp-proxy, site B"
report udp-proxy "udp-proxy"
report tunnel "udp-tunnel, keyless"
report tunnel-keyed "udp-tunnel, keyed"
echo
for n in "${NAMES[@]}"; do
	log=$([ "$n" = mld ] && echo mld-proxy || { [ "$n" = ssdp ] && echo b; } || { [ "$n" = tunnel ] && echo h1; } || { [ "$n" = tunnel-keyed ] && echo h1-k; } || echo udp-proxy)
	if grep -qE ' ERROR |^\s+at ' "$T/$log.log" 2>/dev/null; then
		echo "$n: its log has an ERROR or a stack trace:"
		grep -E ' ERROR |^\s+at ' "$T/$log.log" | head -5 | lab_indent
		crashes_total=$((crashes_total + 1))
	fi
done
echo "== live flood, seed $SEED: $crashes_total crash(es)"
[ "$crashes_total" = 0 ]
