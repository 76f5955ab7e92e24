#!/usr/bin/env bash
# shellcheck disable=SC2317 # helpers are invoked through check/wait_for
# test/e2e/ssdp-proxy-mdns.test.sh - mDNS across sites (issue 14): the real ssdp-proxy
# executable with --mdns between the sites of the ssdp-proxy lab (test/lab/ssdp-proxy.sh),
# with real responders and browsers from Debian: avahi-daemon (one per namespace, each with
# its own D-Bus), avahi-publish, avahi-browse, python3-zeroconf. LANs have IPv4 and global
# IPv6 (fd0N::/64, routed over the VPN links).
#
#   a. without --mdns, nothing of A is found at B (avahi's own responder also runs on A's
#      router, as UniFi's would, and holds port 5353 first)
#   b. with --mdns (SIGHUP): avahi-browse -rt at B finds a printer, a speaker and a TV
#      published at A and resolves each to A's IPv4 and IPv6 address; so does
#      python3-zeroconf's browser
#   c. on B's LAN the relayed packets come from B's router, port 5353, TTL/hop limit
#      255, without link-local addresses (which A's LAN had), and queries lose QU
#   d. the router's avahi still gets the unicast sent to its port 5353 (dig)
#   e. a service filter lets _airplay._tcp through and keeps _googlecast._tcp home
#   f. the same host name published at both sites: neither avahi renames or logs a
#      conflict; the proxies withheld the other site's records for that name
#   g. a full mesh of three sites: one query from A gives one frame to B and one to C,
#      one copy on each LAN, nothing between B and C, nothing back
#   h. a hub (C): one query from A reaches B through C once, and C's LAN once
#   i. malformed packets to the group are counted and dropped; the proxies live on
#
# Run as root: test/e2e/ssdp-proxy-mdns.test.sh (needs dist/ssdp-proxy-linux-x64,
# avahi-daemon, avahi-utils, dbus-daemon, python3-zeroconf, dig, tcpdump; about 70 s)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=test/e2e/lib.sh
. "$here/lib.sh"
need_root
need_cmd ip python3 tcpdump setsid unshare dig avahi-daemon avahi-browse avahi-publish dbus-daemon
t0=$(date +%s)

SP="$root/dist/ssdp-proxy-linux-x64"
[ -x "$SP" ] || bail "$SP is missing" "build it: node scripts/build/build.mjs --target linux-x64 ssdp-proxy"

# shellcheck source=test/lab/ssdp-proxy.sh
. "$here/../lab/ssdp-proxy.sh"
"$MDNS_PYTHON" -c 'import zeroconf' 2>/dev/null || bail "python3-zeroconf is missing for $MDNS_PYTHON" "install it: make setup"
ssdp_topology_up a b c
for s in a b c; do
	n=$([ $s = a ] && echo 1 || { [ $s = b ] && echo 2; } || echo 3)
	lan_up $s "$n"
	lan6_up $s "$n"
done
ssdp_helpers_write
mdns_helpers_write

declare -A PROXY=()
start_proxy() { # SITE
	ssdp_proxy_start "$1" "$SP"
	PROXY[$1]=$LAB_BG_PID
}
# browse_resolves TYPE NAME : avahi-browse -rt at B resolves NAME of TYPE to A's addresses (both families).
browse_resolves() {
	avahi_in blan avahi-browse -rtp "$1" >"$LAB_TMP/browse.out" 2>&1 || true
	grep -qE "^=;eth0;IPv4;$2;.*;hosta\\.local;192\\.168\\.1\\.10;" "$LAB_TMP/browse.out" &&
		grep -qE "^=;eth0;IPv6;$2;.*;hosta\\.local;fd01::10;" "$LAB_TMP/browse.out"
}
zeroconf() { nsx blan "$MDNS_PYTHON" "$MDNS_PY" browse "$1" "${2:-2}" 2>&1; }
no_conflict() { ! grep -iE 'conflict|withdraw' "$LAB_TMP/avahi-$1/avahi.out"; }
neither_conflicts() { no_conflict alan && no_conflict blan; }

# ------------------------------------------------------------------ avahi at A, B and on A's router
avahi_up arouter routera lan0 # the router's own responder, first on port 5353
avahi_up alan hosta
avahi_up blan hostb
avahi_publish alan "Printer A" _ipp._tcp 631
avahi_publish alan "Speaker A" _airplay._tcp 7000
avahi_publish alan "TV A" _googlecast._tcp 8009
# A host with link-local addresses only, and a printer on it: of no use at another site.
avahi_address alan llhost.local 169.254.7.7
avahi_address alan llhost.local fe80::7
avahi_publish alan "LL Printer" _ipp._tcp 631 llhost.local

# ------------------------------------------------------------------ a. without --mdns
check "a bad --mdns-service is refused at start, naming the flag and the rule" sh -c "$SP --lan lan0 --peer 10.0.0.2 --key-file $KEY --mdns-service airplay 2>&1 | grep -q '^ERROR: --mdns-service: \"airplay\" is not a service type like _airplay._tcp'"
conf a '["lan0"]' '["10.0.0.2"]'
conf b '["lan0"]' '["10.0.0.1"]'
start_proxy a
start_proxy b
require_wait 5 "A and B relay SSDP" ssdp_logs_have "joined 239.255.255.250 on lan0"
check "without --mdns, python3-zeroconf at B finds no printer at A" sh -c "! ip netns exec $(ns_name blan) $MDNS_PYTHON $MDNS_PY browse _ipp._tcp.local. 2 | grep -q 'Printer A'"
check "... nor does avahi-browse at B" not browse_resolves _ipp._tcp 'Printer\\032A'

# ------------------------------------------------------------------ b. --mdns
conf a '["lan0"]' '["10.0.0.2"]' '"mdns": true'
conf b '["lan0"]' '["10.0.0.1"]' '"mdns": true'
ssdp_hup "A and B reload with mDNS on" a b
require_wait 5 "A relays mDNS beside the router's avahi (port 5353 shared)" ssdp_log_has a "relaying mDNS on port 5353 of lan0"
require_wait 5 "... B too" ssdp_log_has b "relaying mDNS on port 5353 of lan0"
cap_start bl blan eth0 -v udp port 5353
cap_start al alan eth0 -v udp port 5353
check "avahi-browse -rt at B resolves the printer at A to 192.168.1.10 and fd01::10" browse_resolves _ipp._tcp 'Printer\\032A'
[ "$E2E_LAST" = 0 ] || lab_indent <"$LAB_TMP/browse.out"
# avahi-browse -t may end ("all for now") before the link-local printer's answer is in: browse
# until it is listed (the first time, as a rule); a resolution in any of the tries is a failure.
ll_browsed() {
	avahi_in blan avahi-browse -rtp _ipp._tcp >"$LAB_TMP/browse-ll.out" 2>&1 || true
	if grep -q '^=;.*;LL\\032Printer;' "$LAB_TMP/browse-ll.out"; then cat "$LAB_TMP/browse-ll.out" >>"$LAB_TMP/ll-resolved"; fi
	grep -q '^+;eth0;IPv4;LL\\032Printer;' "$LAB_TMP/browse-ll.out"
}
wait_for 10 "... the printer on a link-local-only host is browsed at B" ll_browsed
check "... but never resolved (its addresses are link-local)" sh -c "! grep -q '^=;.*;LL\\\\032Printer;' $LAB_TMP/browse.out && [ ! -e $LAB_TMP/ll-resolved ]"
check "... and the AirPlay speaker" browse_resolves _airplay._tcp 'Speaker\\032A'
check "... and the Chromecast" browse_resolves _googlecast._tcp 'TV\\032A'
check "python3-zeroconf's browser at B finds and resolves the printer to both addresses" sh -c "ip netns exec $(ns_name blan) $MDNS_PYTHON $MDNS_PY browse _ipp._tcp.local. 2 | grep -qx 'Printer A._ipp._tcp.local. 631 192.168.1.10 fd01::10'"
cap_stop bl
cap_stop al

# ------------------------------------------------------------------ c. what B's LAN saw
check "A's LAN had link-local addresses in llhost's answers (A 169.254.7.7, AAAA fe80::7)" sh -c "grep -q 'llhost.local. (Cache flush) A 169.254.7.7' $LAB_TMP/cap-al.txt && grep -q 'llhost.local. (Cache flush) AAAA fe80::7' $LAB_TMP/cap-al.txt"
check "B's LAN got relayed answers from its router (IPv4 and IPv6), port 5353" sh -c "grep -q '192.168.2.1.5353 > 224.0.0.251.5353: .*SRV hosta.local' $LAB_TMP/cap-bl.txt && grep -qE 'fe80::[0-9a-f:]+\\.5353 > ff02::fb\\.5353: .*SRV hosta.local' $LAB_TMP/cap-bl.txt"
check "... none of them with a link-local address" not grep -qE 'AAAA fe80::|A 169\.254\.' "$LAB_TMP/cap-bl.txt"
# tcpdump -v prints the IP header on the line before the packet it belongs to.
check "... sent with TTL 255 and hop limit 255 (RFC 6762 s11)" sh -c "! grep -B1 -E '192\\.168\\.2\\.1\\.5353 >' $LAB_TMP/cap-bl.txt | grep -E '^[0-9:.]+ IP ' | grep -v 'ttl 255' | grep -q . && ! grep -E 'fe80::[0-9a-f:]+\\.5353 > ff02::fb' $LAB_TMP/cap-bl.txt | grep -v 'hlim 255' | grep -q ."
check "avahi at A and B logged no conflict" sh -c "! grep -iE 'conflict' $LAB_TMP/avahi-alan/avahi.out $LAB_TMP/avahi-blan/avahi.out"
check "status at B counts mDNS per LAN and per peer" ssdp_jget b brouter '(s["mdns"]["lans"][0]["queries"] > 0 and s["mdns"]["lans"][0]["responsesMulticast"] > 0 and s["mdns"]["peers"][0]["responsesReceived"] > 0) or sys.exit(1)'
check "status at A counts the link-local records it removed" ssdp_jget a arouter '(s["mdns"]["lans"][0]["drops"].get("link-local-records", 0) + s["mdns"]["lans"][0]["drops"].get("link-local", 0) > 0) or sys.exit(1)'

# ------------------------------------------------------------------ d. the router's responder keeps its unicast
check "a unicast query to A's router port 5353 is answered by its avahi (dig)" sh -c "ip netns exec $(ns_name alan) dig @192.168.1.1 -p 5353 routera.local A +short +time=2 +tries=2 | grep -qx 192.168.1.1"
check "... and the router's avahi logged no conflict nor error" sh -c "! grep -iE 'conflict|error' $LAB_TMP/avahi-arouter/avahi.out"

# ------------------------------------------------------------------ e. service filter
conf a '["lan0"]' '["10.0.0.2"]' '"mdns": { "services": ["_airplay._tcp"] }'
conf b '["lan0"]' '["10.0.0.1"]' '"mdns": { "services": ["_airplay._tcp"] }'
ssdp_hup "A and B reload with only _airplay._tcp relayed" a b
check "with a filter for _airplay._tcp, zeroconf at B finds the speaker at A" sh -c "ip netns exec $(ns_name blan) $MDNS_PYTHON $MDNS_PY browse _airplay._tcp.local. 2 | grep -q '^Speaker A._airplay._tcp.local. 7000 192.168.1.10'"
check "... and not the Chromecast" sh -c "! ip netns exec $(ns_name blan) $MDNS_PYTHON $MDNS_PY browse _googlecast._tcp.local. 2 | grep -q 'TV A'"
check "... what it kept home is counted" ssdp_jget b brouter '(s["mdns"]["lans"][0]["drops"].get("filtered", 0) > 0) or sys.exit(1)'

# ------------------------------------------------------------------ f. one host name at both sites
conf a '["lan0"]' '["10.0.0.2"]' '"mdns": true'
conf b '["lan0"]' '["10.0.0.1"]' '"mdns": true'
ssdp_hup "A and B reload relaying every service" a b
avahi_down blan
avahi_up blan hosta # the name A's host has
avahi_in blan avahi-browse -rtp _ipp._tcp >/dev/null 2>&1 || true # pulls A's records for hosta.local
sleep 2
check "B's avahi kept the name hosta.local, A's too: no rename" sh -c "grep -q 'Host name is hosta.local' $LAB_TMP/avahi-blan/avahi.out && ! grep -q 'hosta-2' $LAB_TMP/avahi-alan/avahi.out $LAB_TMP/avahi-blan/avahi.out"
check "... and neither logged a conflict" neither_conflicts
check "B withheld A's records for hosta.local" ssdp_jget b brouter '(s["mdns"]["peers"][0]["drops"].get("conflict-records", 0) + s["mdns"]["peers"][0]["drops"].get("conflict", 0) > 0) or sys.exit(1)'
check "... A withheld B's" ssdp_jget a arouter '(s["mdns"]["peers"][0]["drops"].get("conflict-records", 0) + s["mdns"]["peers"][0]["drops"].get("conflict", 0) > 0) or sys.exit(1)'

# ------------------------------------------------------------------ g. full mesh of three
conf a '["lan0"]' '["10.0.0.2", "10.0.1.2"]' '"mdns": true'
conf b '["lan0"]' '["10.0.0.1", "10.0.2.2"]' '"mdns": true'
conf c '["lan0"]' '["10.0.1.1", "10.0.2.1"]' '"mdns": true'
start_proxy c
ssdp_hup "A and B reload with C" a b
require_wait 5 "C relays mDNS" ssdp_log_has c "relaying mDNS on port 5353 of lan0"
mesh_count() { # MARKER
	for c in ab:arouter:vpnab ac:arouter:vpnac bc:brouter:vpnbc; do
		IFS=: read -r l n i <<<"$c"
		cap_start "m$l" "$n" "$i" -A udp port 1901
	done
	for s in a b c; do cap_start "lan$s" "${s}lan" eth0 udp port 5353; done
	nsx alan "$MDNS_PYTHON" "$MDNS_PY" query "$1._tcp.local" qu
	sleep 1
	for l in ab ac bc; do cap_stop "m$l"; done
	for s in a b c; do cap_stop "lan$s"; done
}
mesh_count _mesh-e2e
check "one query from A's LAN: one frame to B, one to C, none back, none between B and C" \
	test "$(relay_frames mab _mesh-e2e; relay_frames mac _mesh-e2e; relay_frames mbc _mesh-e2e)" = "$(printf '10.0.0.1>10.0.0.2 1\n10.0.1.1>10.0.1.2 1')"
check "... one copy on B's LAN and one on C's, from their routers, the QU bit cleared" sh -c "[ \$(grep -c '_mesh-e2e' $LAB_TMP/cap-lanb.txt) = 1 ] && [ \$(grep -c '_mesh-e2e' $LAB_TMP/cap-lanc.txt) = 1 ] && grep -q '192.168.2.1.5353 > 224.0.0.251.5353: .*PTR (QM)? _mesh-e2e._tcp.local.' $LAB_TMP/cap-lanb.txt && grep -q 'PTR (QU)? _mesh-e2e' $LAB_TMP/cap-lana.txt"
check "... and A's LAN has only the original" test "$(grep -c '_mesh-e2e' "$LAB_TMP/cap-lana.txt")" = 1

# ------------------------------------------------------------------ h. hub
conf a '["lan0"]' '["10.0.1.2"]' '"mdns": true'
conf b '["lan0"]' '["10.0.2.2"]' '"mdns": true'
conf c '["lan0"]' '["10.0.1.1", "10.0.2.1"]' '"hub": true, "mdns": true'
ssdp_hup "the hub C and its spokes reload" a b c
mesh_count _hub-e2e
check "one query from A through the hub: A to C once, C to B once, nothing back" \
	test "$(relay_frames mab _hub-e2e; relay_frames mac _hub-e2e; relay_frames mbc _hub-e2e)" = "$(printf '10.0.1.1>10.0.1.2 1\n10.0.2.2>10.0.2.1 1')"
check "... one copy on B's LAN, one on C's" sh -c "[ \$(grep -c '_hub-e2e' $LAB_TMP/cap-lanb.txt) = 1 ] && [ \$(grep -c '_hub-e2e' $LAB_TMP/cap-lanc.txt) = 1 ]"

# ------------------------------------------------------------------ i. malformed packets
nsx alan "$MDNS_PYTHON" "$MDNS_PY" garbage 8
wait_for 3 "8 malformed packets on A's LAN are counted and dropped" ssdp_jget a arouter '(s["mdns"]["lans"][0]["drops"].get("malformed", 0) >= 8) or sys.exit(1)'
check "... and the proxies still run" sh -c "kill -0 ${PROXY[a]} && kill -0 ${PROXY[b]} && kill -0 ${PROXY[c]}"

for s in a b c; do bg_stop "${PROXY[$s]}"; done
note "took $(($(date +%s) - t0)) s"
finish
