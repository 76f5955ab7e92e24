#!/usr/bin/env bash
# Benchmarks ssdp-proxy between two sites of the ssdp-proxy lab (test/lab/ssdp-proxy.sh)
# in network namespaces this script creates and removes (no traffic leaves them):
# minidlna on site A's LAN, clients on B's. The table: scripts/bench/table.sh.
# Goals are reported (ok / MISSED), never asserted: the exit status is non-zero only
# when the bench cannot run.
#
# Usage: scripts/bench-ssdp-proxy.sh   (as root; needs dist/ssdp-proxy-linux-x64,
#        minidlna, python3; about 40 s)
#
#   alan 192.168.1.10 (minidlna) - arouter 10.0.0.1 --routed veth (vpnab)-- 10.0.0.2 brouter - blan 192.168.2.10
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

LAB_PREFIX=ssdpb$$-
# shellcheck source=test/lab/lib.sh
. test/lab/lib.sh
# shellcheck source=test/lab/ssdp-proxy.sh
. test/lab/ssdp-proxy.sh
# shellcheck source=scripts/bench/table.sh
. scripts/bench/table.sh

need_root
need_cmd ip python3 minidlnad curl
[ -x "$SP" ] || die "$SP is missing; run: node scripts/build.mjs --target linux-x64 ssdp-proxy"

json() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

# ------------------------------------------------------------ lab
ssdp_two_sites_up # minidlna at A, and the key file $KEY
for s in a b; do
	peer=$([ $s = a ] && echo 10.0.0.2 || echo 10.0.0.1)
	ssdp_proxy_start "$s" "$SP" --lan lan0 --peer "$peer" --key-file "$KEY" \
		--control-socket "$LAB_TMP/$s.sock" --log "$LAB_TMP/$s.log"
done
wait_until 10 "the proxies" test -S "$LAB_TMP/a.sock" -a -S "$LAB_TMP/b.sock"
sleep 1

# ------------------------------------------------------------ measure
echo "bench-ssdp-proxy: $ROUNDS rounds x 4 concurrent clients; NOTIFY blast ${SECS}s" >&2
DIRECT=$(nsx alan python3 "$TOOL" search "$ROUNDS" 4 "$MS" 1.5)
RELAYED=$(nsx blan python3 "$TOOL" search "$ROUNDS" 4 "$MS" 1.5)

bg_in blan "$LAB_TMP/count.out" python3 "$TOOL" count "$((SECS + 3))" urn:x-bench:blast
COUNT_PID=$LAB_BG_PID
wait_until 5 "the NOTIFY counter" grep -q ready "$LAB_TMP/count.out"
BLAST=$(nsx alan python3 "$TOOL" blast "$SECS")
wait "$COUNT_PID" || true
COUNT=$(tail -1 "$LAB_TMP/count.out")
nsx brouter "$SP" status --control-socket "$LAB_TMP/b.sock" >"$LAB_TMP/b-status.txt" 2>&1 || true

row "discovery success, relayed vs direct ($ROUNDS x 4 clients)" "$(json "$RELAYED" success_pct)" "$(json "$DIRECT" success_pct)" % ">=100"
r_ms=$(json "$RELAYED" median_ms) d_ms=$(json "$DIRECT" median_ms)
row "M-SEARCH to first reply, median: relayed vs direct" "$r_ms" "$d_ms" ms -
row "  ... what the relay adds" "$(awk -v a="$r_ms" -v b="$d_ms" 'BEGIN { if (a == "None" || b == "None") print "n/a"; else printf "%.2f", a - b }')" - ms "<5"
row "NOTIFY per second: relayed to B vs sent on A" "$(json "$COUNT" per_second)" "$(awk -v n="$(json "$BLAST" sent)" -v s="$SECS" 'BEGIN { printf "%d", n / s }')" /s -
row "NOTIFY total: arrived on B vs sent on A" "$(json "$COUNT" received)" "$(json "$BLAST" sent)" NOTIFYs -
echo
print_table
