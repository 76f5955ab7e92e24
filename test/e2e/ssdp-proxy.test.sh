#!/usr/bin/env bash
# shellcheck disable=SC2317 # helpers are invoked through check/wait_for
# test/e2e/ssdp-proxy.test.sh - the real ssdp-proxy executable between the LANs of
# three sites whose routers are joined by routed point-to-point links standing in
# for WireGuard (no multicast crosses them, only routed unicast):
#
#   alan 192.168.1.10 (minidlna) - lan0 192.168.1.1  arouter  vpnab 10.0.0.1 -- 10.0.0.2 vpnab  brouter  lan0 192.168.2.1 - blan 192.168.2.10
#                                                     arouter  vpnac 10.0.1.1 -- 10.0.1.2 vpnac  crouter  lan0 192.168.3.1 - clan 192.168.3.10
#                                                     brouter  vpnbc 10.0.2.1 -- 10.0.2.2 vpnbc  crouter
#
#   a. two sites (A <-> B); B's proxy starts before its LAN interface exists; another
#      listener holds port 1900 on A's router and keeps hearing the group
#   b. nmap's broadcast-upnp-info on B's LAN finds minidlna at A; curl fetches its LOCATION
#   c. four clients on B search at once from their own ports with different STs: each
#      gets only the replies to its own search
#   d. minidlna's NOTIFY alive reaches a passive listener on B's LAN
#   e. relay datagrams with a wrong key, and from an address that is no peer, are
#      dropped and counted in `ssdp-proxy status`
#   f. SIGHUP adds site C (full mesh); 10 NOTIFYs from A's LAN give exactly 10 on each
#      other LAN, 10 relay frames per link from A, none between B and C: no storm
#      (with IPv6: an M-SEARCH to [ff02::c] on B's LAN is answered by a device at A;
#      and an outbound ST filter, set by SIGHUP, keeps a search at home)
#   g. a hub (C with --hub, A and B as its spokes): a search from B finds minidlna
#      through the hub, and NOTIFYs are not looped back
#   (issue 15) frames B sent to A, captured and sent back to B from A's address, are
#      refused (reflected); while one host floods 1100 searches, three others are answered;
#      300 datagrams of 65,507 bytes to B's SSDP socket cost B less than 10 MB of RssAnon
#      at the peak, and it is back within 4 MB of its pre-flood value within 15 s
#
# Run as root: test/e2e/ssdp-proxy.test.sh  (SSDP_PROXY=EXE: another build; minidlna,
# nmap, curl, tcpdump, python3; about 60 s)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=test/e2e/lib.sh
. "$here/lib.sh"
need_root
need_cmd ip python3 minidlnad nmap curl tcpdump setsid
t0=$(date +%s)

SP=${SSDP_PROXY:-$root/dist/ssdp-proxy-linux-x64}
if [ ! -x "$SP" ]; then
	bail "$SP is missing" "build it: node scripts/build/build.mjs --target linux-x64 ssdp-proxy"
fi

# ------------------------------------------------------------------ topology
# shellcheck source=test/lab/ssdp-proxy.sh
. "$here/../lab/ssdp-proxy.sh"
ssdp_topology_up a b c
lan_up a 1
lan_up c 3
# B's LAN comes up after B's proxy has started (below).

# ------------------------------------------------------------------ helpers
ssdp_helpers_write

declare -A PROXY=()
start_proxy() { # SITE
	ssdp_proxy_start "$1" "$SP"
	PROXY[$1]=$LAB_BG_PID
}
# ------------------------------------------------------------------ a. two sites
# Another SSDP listener on A's router (UniFi's miniupnpd stands for it) holds port 1900 first.
bg_in arouter "$LAB_TMP/other1900.out" python3 -u "$PY" listen other 192.168.1.1
wait_for 5 "another listener holds port 1900 on A's router" grep -q listening "$LAB_TMP/other1900.out"

conf a '["lan0"]' '["10.0.0.2"]'
conf b '["lan0"]' '["10.0.0.1"]'
start_proxy a
start_proxy b
require_wait 5 "proxy A starts beside the other port-1900 listener" ssdp_log_has a "joined 239.255.255.250 on lan0"
require_wait 5 "proxy B is up though its LAN interface is missing" test -S "$LAB_TMP/b.sock"
check "B's status shows lan0 missing" ssdp_jget b brouter 's["lans"][0]["present"] == False or sys.exit(1)'
lan_up b 2
require_wait 10 "B joins the group once lan0 appears" ssdp_log_has b "joined 239.255.255.250 on lan0 \\(192.168.2.1/24\\)"

# Passive listener on B's LAN for NOTIFYs (before minidlna starts, to hear its alive burst).
bg_in blan "$LAB_TMP/blisten.out" python3 -u "$PY" listen blan
wait_for 5 "passive listener on B's LAN is up" grep -q listening "$LAB_TMP/blisten.out"

minidlna_up # on A's LAN

# ------------------------------------------------------------------ d. NOTIFY alive at B
wait_for 10 "minidlna's NOTIFY alive is heard on B's LAN" grep -qE '^192\.168\.2\.1 NOTIFY .*ssdp:alive .*MediaServer' "$LAB_TMP/blisten.out"
check "the other port-1900 listener on A's router still hears the group" grep -q '192.168.1.10 NOTIFY' "$LAB_TMP/other1900.out"
# UniFi's miniupnpd answers unicast on port 1900 too; Linux gives a unicast datagram to
# one socket only, and ssdp-proxy (bound to the group address) must not be that one.
nsx alan python3 "$PY" unicast 192.168.1.1
wait_for 3 "a unicast datagram to A's router port 1900 still reaches the other listener" grep -q 'urn:x-e2e:unicast' "$LAB_TMP/other1900.out"

# ------------------------------------------------------------------ b. nmap + curl
nmap_finds() {
	nsx blan nmap -v -n -Pn -sn --script broadcast-upnp-info >"$LAB_TMP/nmap.out" 2>&1 || true
	grep -q 'Location: http://192.168.1.10:8200/rootDesc.xml' "$LAB_TMP/nmap.out" &&
		grep -q 'e2e-minidlna' "$LAB_TMP/nmap.out"
}
check "nmap broadcast-upnp-info on B's LAN finds minidlna at A (and reads its description)" nmap_finds
[ "$E2E_LAST" = 0 ] || lab_indent <"$LAB_TMP/nmap.out"
check "curl from B's LAN fetches the LOCATION URL" sh -c "ip netns exec $(ns_name blan) curl -fsS http://192.168.1.10:8200/rootDesc.xml | grep -q e2e-minidlna"

# ------------------------------------------------------------------ c. four concurrent clients
MS='urn:schemas-upnp-org:device:MediaServer:1'
clients=()
CD='urn:schemas-upnp-org:service:ContentDirectory:1'
for i in 1 2 3 4; do
	st=$([ $i = 1 ] && echo upnp:rootdevice || { [ $i = 2 ] && echo "$MS"; } || { [ $i = 3 ] && echo "$CD"; } || echo urn:x-e2e:nothing-has-this)
	nsx blan python3 "$PY" search "$st" 2 4 >"$LAB_TMP/client$i.json" &
	clients+=($!)
done
wait "${clients[@]}"
own_replies() { # N ST EXPECT_COUNT_MIN
	python3 - "$LAB_TMP/client$1.json" "$2" "$3" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1])); st = sys.argv[2]; want = int(sys.argv[3])
bad = [x for x in r if x["st"] != st]
assert not bad, f"replies to another search: {bad}"
assert len(r) >= want, f"{len(r)} replies, wanted at least {want}"
assert all(x["location"] == "http://192.168.1.10:8200/rootDesc.xml" for x in r), r
if want == 0: assert not r, r
EOF
}
check "client 1 (upnp:rootdevice) gets its reply and only its own" own_replies 1 upnp:rootdevice 1
check "client 2 (MediaServer) gets its reply and only its own" own_replies 2 "$MS" 1
check "client 3 (ContentDirectory) gets its reply and only its own" own_replies 3 "$CD" 1
check "client 4 (an ST nobody has) gets nothing" own_replies 4 urn:x-e2e:nothing-has-this 0
check "A counted the searches it multicast and the replies it relayed" ssdp_jget a arouter '(s["lans"][0]["searchesMulticast"] >= 4 and s["lans"][0]["repliesRelayed"] >= 3) or sys.exit(1)'
check "B counted its LAN's searches and the replies it routed" ssdp_jget b brouter '(s["lans"][0]["searches"] >= 4 and s["lans"][0]["repliesRouted"] >= 3) or sys.exit(1)'

# ------------------------------------------------------------------ reflected frames (issue 15.2)
# Frames B sends to A, captured on the link and sent back to B from A's address within
# the freshness window, must not be taken as A's: they name B as their sender.
bg_in brouter "$LAB_TMP/btoa.out" tcpdump -n -U --immediate-mode -i vpnab -w "$LAB_TMP/btoa.pcap" udp and src 10.0.0.2 and dst port 1901
btoa=$LAB_BG_PID
wait_for 5 "a capture of B's frames to A is running" grep -q 'listening on' "$LAB_TMP/btoa.out"
nsx blan python3 "$PY" searches 20 reflect 1 0.02
# tcpdump prints its counts on SIGUSR1
captured() { kill -USR1 "$btoa" && sleep 0.2 && grep -q "^tcpdump: $1 packets captured" "$LAB_TMP/btoa.out"; }
wait_for 3 "... it has the 20 search frames B sent" captured 20
bg_stop "$btoa"
reflected=$(nsx arouter python3 "$PY" replay "$LAB_TMP/btoa.pcap" 10.0.0.1 10.0.0.2)
check "20 frames B sent to A were captured and sent back to B from A's address" test "$reflected" = 20
wait_for 3 "B refuses every one of them, counted reflected" ssdp_jget b brouter '(s["peers"][0]["drops"].get("reflected", 0) == 20) or sys.exit(1)'
check "... and multicast none on its LAN" not grep -q '^192\.168\.2\.1 M-SEARCH' "$LAB_TMP/blisten.out"

# ------------------------------------------------------------------ one host floods searches (issue 15.3)
# One LAN host sends 1100 valid searches of distinct STs; three others search for the
# MediaServer at A meanwhile: each is answered, the flood holds its quota only.
for h in 11 12 13; do nsx blan ip addr add "192.168.2.$h/24" dev eth0; done
nsx blan python3 "$PY" searches 1100 flood 5 0.001
legit=()
for h in 11 12 13; do
	nsx blan python3 "$PY" search-from "192.168.2.$h" "$MS" 2.5 >"$LAB_TMP/legit$h.out" &
	legit+=($!)
done
wait "${legit[@]}"
check "during a flood of 1100 searches from one host, three other hosts are answered (3 of 3)" test "$(cat "$LAB_TMP"/legit1?.out | grep -c '^answered')" = 3
check "... the flooding host held 64 pending searches and the rest is counted host-quota" ssdp_jget b brouter '(s["drops"].get("host-quota", 0) >= 1000 and "pending-full" not in s["drops"]) or sys.exit(1)'
wait_for 8 "B's pending searches drain (MX + 1 s)" ssdp_jget b brouter '(s["pendingSearches"] == 0) or sys.exit(1)'

# ------------------------------------------------------------------ oversized datagrams (issue 15)
# Node receives each datagram into a buffer of its own; a flood of the largest ones must
# not pile them up (lib/memory.ts: a minor GC every 4 MiB received), and what the flood
# took is given back once it is over.
kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
anon0=$(kb "${PROXY[b]}" RssAnon)
touch "$LAB_TMP/sampling"
( peak=0; while [ -e "$LAB_TMP/sampling" ]; do a=$(kb "${PROXY[b]}" RssAnon); [ "$a" -gt "$peak" ] && peak=$a; echo "$peak" >"$LAB_TMP/peak"; sleep 0.1; done ) &
sampler=$!
nsx blan python3 "$here/udp-flood.py" big 192.168.2.10 239.255.255.250 1900 300 65507 >/dev/null
sleep 0.5
rm -f "$LAB_TMP/sampling"
wait "$sampler"
peak=$(cat "$LAB_TMP/peak")
echo "# B: RssAnon $((anon0 / 1024)) MB, $((peak / 1024)) MB at the peak of 300 datagrams of 65,507 bytes"
check "B survived them" bg_alive "${PROXY[b]}"
check "B's RssAnon grew by less than 10 MB at the peak" test $((peak - anon0)) -lt $((10 * 1024))
back() { [ $(($(kb "${PROXY[b]}" RssAnon) - anon0)) -lt $((4 * 1024)) ]; }
wait_for 15 "... and is back within 4 MB of its pre-flood value" back

# ------------------------------------------------------------------ IPv6 SSDP (ff02::c)
bg_in alan "$LAB_TMP/device6.out" python3 -u "$PY" device6 eth0
wait_for 5 "an IPv6 SSDP device on A's LAN listens on ff02::c" grep -q listening "$LAB_TMP/device6.out"
search6_finds() { nsx blan python3 "$PY" search6 eth0 urn:x-e2e:v6 2.5 | grep -q 'LOCATION: http://\[fd01::10\]:9/v6.xml'; }
check "an M-SEARCH to [ff02::c] on B's LAN is answered by the device at A" search6_finds
check "... which heard it from A's router (link-local)" grep -q '^search from fe80::' "$LAB_TMP/device6.out"

# ------------------------------------------------------------------ e. forged relay datagrams
nsx arouter python3 "$PY" inject "not-the-shared-key-at-all" 10.0.0.2
nsx blan python3 "$PY" inject "$(cat "$KEY")" 192.168.2.1
wait_for 3 "a frame with the wrong key from a peer's address is dropped and counted" ssdp_jget b brouter '(s["peers"][0]["drops"].get("bad-auth", 0) == 1) or sys.exit(1)'
wait_for 3 "a frame from an address that is no peer is dropped and counted" ssdp_jget b brouter '(s["drops"].get("unknown-peer", 0) == 1) or sys.exit(1)'
check "neither forged NOTIFY reached B's LAN" not grep -q forged "$LAB_TMP/blisten.out"
check "status prints per-LAN and per-peer counters" sh -c "ip netns exec $(ns_name brouter) $SP status --control-socket $LAB_TMP/b.sock | grep -E '^10\\.0\\.0\\.1 .*bad-auth 1'"

# ------------------------------------------------------------------ filters (SIGHUP)
conf b '["lan0"]' '["10.0.0.1"]' '"filters": { "outbound": { "deny": ["urn:x-e2e:private*"] } }'
ssdp_hup "B ssdp_reloads with an outbound ST filter" b
nsx blan python3 "$PY" search urn:x-e2e:private-thing 1 0.5 >/dev/null
wait_for 3 "a search for a denied ST is not relayed, and counted" ssdp_jget b brouter '(s["lans"][0]["filtered"] == 1) or sys.exit(1)'

# ------------------------------------------------------------------ IPv6 relay link (SIGHUP)
conf a '["lan0"]' '["fd00:ab::2"]'
conf b '["lan0"]' '["fd00:ab::1"]'
ssdp_hup "A and B reload with each other's IPv6 address as the peer" a b
cap_start ab6 arouter vpnab udp port 1901
check "a search from B's LAN finds minidlna at A over an IPv6 relay link" sh -c "ip netns exec $(ns_name blan) python3 $PY search $MS 1 2 | grep -q '192.168.1.10:8200/rootDesc.xml'"
cap_stop ab6
check "... the relay frames went over IPv6, none over IPv4" sh -c "grep -q 'fd00:ab::2.1901 > fd00:ab::1.1901' $LAB_TMP/cap-ab6.txt && ! grep -q '10.0.0.[12].1901' $LAB_TMP/cap-ab6.txt"

# ------------------------------------------------------------------ f. full mesh of three
conf a '["lan0"]' '["10.0.0.2", "10.0.1.2"]'
conf b '["lan0"]' '["10.0.0.1", "10.0.2.2"]'
conf c '["lan0"]' '["10.0.1.1", "10.0.2.1"]'
start_proxy c
ssdp_hup "A and B reload with C as a peer (back to IPv4)" a b
require_wait 5 "C joins the group" ssdp_log_has c "joined 239.255.255.250 on lan0"
bg_in clan "$LAB_TMP/clisten.out" python3 -u "$PY" listen clan
wait_for 5 "passive listener on C's LAN is up" grep -q listening "$LAB_TMP/clisten.out"
cap_start alan alan eth0 udp port 1900
cap_start ab arouter vpnab udp port 1901
cap_start ac arouter vpnac udp port 1901
cap_start bc brouter vpnbc udp port 1901
nsx alan python3 "$PY" notify 10 mesh
sleep 1.5
for c in alan ab ac bc; do cap_stop $c; done
mesh_count() { [ "$(grep -c "urn:x-e2e:mesh" "$LAB_TMP/$1")" = "$2" ] || { grep -c "urn:x-e2e:mesh" "$LAB_TMP/$1"; return 1; }; }
check "10 NOTIFYs from A's LAN: exactly 10 on B's LAN" mesh_count blisten.out 10
check "... and exactly 10 on C's LAN" mesh_count clisten.out 10
check "... 10 relay frames A->B and 10 A->C, nothing back" sh -c "[ \$(grep -c '10.0.0.1.1901 > 10.0.0.2.1901' $LAB_TMP/cap-ab.txt) = 10 ] && [ \$(grep -c '10.0.1.1.1901 > 10.0.1.2.1901' $LAB_TMP/cap-ac.txt) = 10 ] && ! grep -q '> 10.0.0.1.1901' $LAB_TMP/cap-ab.txt && ! grep -q '> 10.0.1.1.1901' $LAB_TMP/cap-ac.txt"
check "... no relay frames between B and C" sh -c "[ \$(grep -c 'UDP' $LAB_TMP/cap-bc.txt) = 0 ]"
check "... and A's LAN sees only the 10 originals (nothing re-multicast)" sh -c "[ \$(grep -c '192.168.1.10.[0-9]* > 239.255.255.250.1900' $LAB_TMP/cap-alan.txt) -ge 10 ] && ! grep -q '192.168.1.1.[0-9]* > 239.255.255.250' $LAB_TMP/cap-alan.txt"

# ------------------------------------------------------------------ g. hub
# C becomes a hub (its LAN stays), A and B talk only to it.
conf a '["lan0"]' '["10.0.1.2"]'
conf b '["lan0"]' '["10.0.2.2"]'
conf c '["lan0"]' '["10.0.1.1", "10.0.2.1"]' '"hub": true'
ssdp_hup "the hub and its spokes reload" a b c
hub_search() {
	nsx blan python3 "$PY" search "$MS" 1 2.5 >"$LAB_TMP/hub.json"
	own_replies_file "$LAB_TMP/hub.json"
}
own_replies_file() { python3 -c "import json,sys; r=json.load(open('$1')); assert r and all(x['location']=='http://192.168.1.10:8200/rootDesc.xml' for x in r), r"; }
check "a search from B's LAN finds minidlna at A through the hub" hub_search
before_b=$(grep -c "urn:x-e2e:hub" "$LAB_TMP/blisten.out" || true)
before_c=$(grep -c "urn:x-e2e:hub" "$LAB_TMP/clisten.out" || true)
cap_start hubab arouter vpnac udp port 1901
nsx alan python3 "$PY" notify 5 hub
sleep 1.5
cap_stop hubab
check "5 NOTIFYs from A through the hub: exactly 5 on B's LAN and 5 on C's" sh -c "[ \$(grep -c urn:x-e2e:hub $LAB_TMP/blisten.out) = $((before_b + 5)) ] && [ \$(grep -c urn:x-e2e:hub $LAB_TMP/clisten.out) = $((before_c + 5)) ]"
check "... the hub sends none of them back to A" not grep -q '> 10.0.1.1.1901' "$LAB_TMP/cap-hubab.txt"

# ------------------------------------------------------------------ stop
for s in a b c; do bg_stop "${PROXY[$s]}"; done
check "SIGTERM stops the proxies and removes their sockets" sh -c "! [ -e $LAB_TMP/a.sock ] && ! [ -e $LAB_TMP/b.sock ] && ! [ -e $LAB_TMP/c.sock ]"
note "took $(($(date +%s) - t0)) s"
finish
