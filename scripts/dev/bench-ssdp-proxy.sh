#!/usr/bin/env bash
# Benchmarks ssdp-proxy between two sites of the ssdp-proxy lab (test/lab/ssdp-proxy.sh)
# in network namespaces this script creates and removes (no traffic leaves them):
# minidlna on site A's LAN, clients on B's. The table: scripts/dev/bench/table.sh.
# Goals are reported (ok / MISSED), never asserted: the exit status is non-zero only
# when the bench cannot run.
#
# Usage: scripts/dev/bench-ssdp-proxy.sh   (as root; needs dist/ssdp-proxy-linux-x64,
#        minidlna, avahi-daemon, avahi-utils, dbus-daemon, python3; about 110 s)
#
#   alan 192.168.1.10 (minidlna) - arouter 10.0.0.1 --routed veth (vpnab)-- 10.0.0.2 brouter - blan 192.168.2.10
#
# Measures:
#   discovery: SSDPB_ROUNDS (50) rounds of 4 concurrent clients on B searching for
#              minidlna's MediaServer; success (goal 100 %). The 4 clients are 4 hosts
#              (192.168.N.10-13): one host searching 40 times a second would pass the
#              per-host quota of pending searches (64 by default) and be refused
#   latency:   median time from M-SEARCH to the first reply, relayed (from B) vs the
#              same search on minidlna's own LAN (goal: relay adds < 5 ms)
#   NOTIFY:    NOTIFYs blasted on A's LAN for SSDPB_SECONDS (3); relayed NOTIFYs per
#              second that arrive on B's LAN through one proxy pair
#   mDNS:      (--mdns; avahi-daemon at A publishes "Bench 1".."Bench 4") 4 concurrent
#              browsers ask for their service's SRV record, rounds alternating between
#              A's own LAN (the baseline) and B (through the relay), 3 times 17 rounds
#              each; success at B (goal 100 %), the median time to the answer, what the
#              relay adds (goal < 5 ms: the median of the 3 alternations, and their
#              range), and the two proxies' CPU time per mDNS packet relayed (taken
#              at one end, multicast at the other), their idle CPU taken off
set -euo pipefail
cd "$(dirname "$0")/../.."
export LC_ALL=C

ROUNDS=${SSDPB_ROUNDS:-50}
SECS=${SSDPB_SECONDS:-3}
SP=${BENCH_SSDP_PROXY:-dist/ssdp-proxy-linux-x64}
TOOL=scripts/dev/bench/ssdpbench.py
MTOOL=scripts/dev/bench/mdnsbench.py
MROUNDS=${MDNSB_ROUNDS:-17}
MS='urn:schemas-upnp-org:device:MediaServer:1'

LAB_PREFIX=ssdpb$$-
# shellcheck source=test/lab/lib.sh
. test/lab/lib.sh
# shellcheck source=test/lab/ssdp-proxy.sh
. test/lab/ssdp-proxy.sh
# shellcheck source=scripts/dev/bench/table.sh
. scripts/dev/bench/table.sh

need_root
need_cmd ip python3 minidlnad curl avahi-daemon avahi-publish dbus-daemon unshare
[ -x "$SP" ] || die "$SP is missing; run: node scripts/build/build.mjs --target linux-x64 ssdp-proxy"

json() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

# ------------------------------------------------------------ lab
ssdp_two_sites_up # minidlna at A, and the key file $KEY
avahi_up alan hosta
for n in 1 2 3 4; do avahi_publish alan "Bench $n" _ipp._tcp 631; done
declare -A PID=()
for s in a b; do
	peer=$([ $s = a ] && echo 10.0.0.2 || echo 10.0.0.1)
	ssdp_proxy_start "$s" "$SP" --lan lan0 --peer "$peer" --key-file "$KEY" --mdns \
		--control-socket "$LAB_TMP/$s.sock" --log "$LAB_TMP/$s.log"
	PID[$s]=$LAB_BG_PID
done
wait_until 10 "the proxies" test -S "$LAB_TMP/a.sock" -a -S "$LAB_TMP/b.sock"
sleep 1

# ------------------------------------------------------------ measure
echo "bench-ssdp-proxy: $ROUNDS rounds x 4 concurrent clients; NOTIFY blast ${SECS}s" >&2
for n in 1 2; do for h in 11 12 13; do nsx "$([ $n = 1 ] && echo alan || echo blan)" ip addr add "192.168.$n.$h/24" dev eth0; done; done
DIRECT=$(nsx alan python3 "$TOOL" search "$ROUNDS" 4 "$MS" 1.5 192.168.1.10,192.168.1.11,192.168.1.12,192.168.1.13)
RELAYED=$(nsx blan python3 "$TOOL" search "$ROUNDS" 4 "$MS" 1.5 192.168.2.10,192.168.2.11,192.168.2.12,192.168.2.13)

bg_in blan "$LAB_TMP/count.out" python3 "$TOOL" count "$((SECS + 3))" urn:x-bench:blast
COUNT_PID=$LAB_BG_PID
wait_until 5 "the NOTIFY counter" grep -q ready "$LAB_TMP/count.out"
BLAST=$(nsx alan python3 "$TOOL" blast "$SECS")
wait "$COUNT_PID" || true
COUNT=$(tail -1 "$LAB_TMP/count.out")
nsx brouter "$SP" status --control-socket "$LAB_TMP/b.sock" >"$LAB_TMP/b-status.txt" 2>&1 || true

# mDNS: alternate the baseline (A's own LAN) and the relay (B), three times each.
# cpu PID... : ns on a CPU, all threads of those processes (schedstat: finer than clock ticks)
cpu() { local p; for p in "$@"; do cat "/proc/$p/task/"*/schedstat; done | awk '{ s += $1 } END { printf "%.0f", s }'; }
now_ns() { date +%s%N; }
# mdns_relayed SITE NS : the mDNS packets that proxy took from its LAN for the peer (each is then
# multicast at the other end: both proxies' CPU is for it)
mdns_relayed() { nsx "$2" "$SP" status --json --control-socket "$LAB_TMP/$1.sock" | python3 -c 'import json,sys; m=json.load(sys.stdin)["mdns"]["lans"][0]; print(m["queries"]+m["responses"])'; }
echo "bench-ssdp-proxy: mDNS, 3 x ($MROUNDS rounds on A's LAN, $MROUNDS rounds from B) x 4 browsers" >&2
# The proxies' CPU when nothing happens (timers, interface and route checks), to take off.
idle0=$(cpu "${PID[a]}" "${PID[b]}") t0=$(now_ns)
sleep 10
idle1=$(cpu "${PID[a]}" "${PID[b]}") t1=$(now_ns)
cpu0=$(cpu "${PID[a]}" "${PID[b]}") t2=$(now_ns)
pk0=$(($(mdns_relayed a arouter) + $(mdns_relayed b brouter)))
for i in 1 2 3; do
	nsx alan python3 "$MTOOL" browse "$MROUNDS" 4 1.5 >"$LAB_TMP/mdns-direct$i.json"
	sleep 1
	nsx blan python3 "$MTOOL" browse "$MROUNDS" 4 1.5 >"$LAB_TMP/mdns-relayed$i.json"
	sleep 1
done
cpu1=$(cpu "${PID[a]}" "${PID[b]}") t3=$(now_ns)
pk1=$(($(mdns_relayed a arouter) + $(mdns_relayed b brouter)))
# us per packet: the CPU of the mDNS phase less the idle CPU of as long a time
US_PER_PACKET=$(awk -v c="$((cpu1 - cpu0))" -v i="$((idle1 - idle0))" -v ti="$((t1 - t0))" -v tp="$((t3 - t2))" -v n="$((pk1 - pk0))" \
	'BEGIN { if (n > 0) printf "%.0f", (c - i * tp / ti) / 1000 / n; else print "n/a" }')
IDLE_PCT=$(awk -v i="$((idle1 - idle0))" -v ti="$((t1 - t0))" 'BEGIN { printf "%.2f", 100 * i / ti }')
MD=$(python3 "$MTOOL" summary "$LAB_TMP"/mdns-direct?.json)
MR=$(python3 "$MTOOL" summary "$LAB_TMP"/mdns-relayed?.json)
# what the relay adds, per alternation: median and range of the three
ADDS=$(python3 -c 'import json,sys,statistics
d=json.loads(sys.argv[1])["medians_ms"]; r=json.loads(sys.argv[2])["medians_ms"]
x=[b-a for a,b in zip(d,r) if a is not None and b is not None]
print("%.2f %.2f %.2f" % (statistics.median(x), min(x), max(x)) if x else "n/a n/a n/a")' "$MD" "$MR")
read -r add_med add_min add_max <<<"$ADDS"

row "discovery success, relayed vs direct ($ROUNDS x 4 clients)" "$(json "$RELAYED" success_pct)" "$(json "$DIRECT" success_pct)" % ">=100"
r_ms=$(json "$RELAYED" median_ms) d_ms=$(json "$DIRECT" median_ms)
row "M-SEARCH to first reply, median: relayed vs direct" "$r_ms" "$d_ms" ms -
row "  ... what the relay adds" "$(awk -v a="$r_ms" -v b="$d_ms" 'BEGIN { if (a == "None" || b == "None") print "n/a"; else printf "%.2f", a - b }')" - ms "<5"
row "NOTIFY per second: relayed to B vs sent on A" "$(json "$COUNT" per_second)" "$(awk -v n="$(json "$BLAST" sent)" -v s="$SECS" 'BEGIN { printf "%d", n / s }')" /s -
row "NOTIFY total: arrived on B vs sent on A" "$(json "$COUNT" received)" "$(json "$BLAST" sent)" NOTIFYs -
row "mDNS discovery success: at B vs on A's LAN ($((3 * MROUNDS)) x 4 browsers)" "$(json "$MR" success_pct)" "$(json "$MD" success_pct)" % ">=100"
row "mDNS query to answer, median: at B vs on A's LAN" "$(json "$MR" median_ms)" "$(json "$MD" median_ms)" ms -
row "  ... what the relay adds (median of 3 alternations; range $add_min..$add_max ms)" "$add_med" - ms "<5"
row "  ... CPU of both proxies per mDNS packet relayed ($((pk1 - pk0)); their idle $IDLE_PCT % of a core taken off)" "$US_PER_PACKET" - us -
echo
print_table
