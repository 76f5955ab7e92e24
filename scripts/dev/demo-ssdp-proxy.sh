#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/../test/lab source-path=SCRIPTDIR
# A narrated demo of ssdp-proxy: two sites whose routers are joined by a routed
# link standing in for WireGuard, minidlna on one site's LAN. A search on the
# other site's LAN finds nothing until ssdp-proxy runs on both routers. Then
# mDNS: a printer avahi publishes at A, found and resolved from B once the
# proxies relay mDNS too (--mdns). Everything runs in network namespaces this
# script creates and removes; no packet leaves them.
#
# Usage: scripts/dev/demo-ssdp-proxy.sh    (`make demo` builds first and runs it; as root; about 15 s)
# Exits non-zero if a step that should work does not.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/test/lab/lib.sh"
need_root
need_cmd ip ping python3 minidlnad curl setsid avahi-daemon avahi-browse avahi-publish dbus-daemon unshare
. "$root/test/lab/ssdp-proxy.sh"
. "$root/scripts/dev/demo-lib.sh"

lab_exe SP ssdp-proxy
MS=urn:schemas-upnp-org:device:MediaServer:1
URL=http://192.168.1.10:8200/rootDesc.xml
# search : show and run an M-SEARCH for media servers on B's LAN (MX 1, 2 s of
# listening); the replies, as JSON, stay in $LAB_TMP/search.json.
search() {
	shown blan python3 ssdp.py search "$MS" 1 2
	nsx blan python3 "$PY" search "$MS" 1 2 | tee "$LAB_TMP/search.json" | sed 's/^/    /'
}
found() { grep -qF "\"location\": \"$URL\"" "$LAB_TMP/search.json"; }
# sp NS ARGS... : show and run ssdp-proxy on that router.
sp() {
	local ns=$1
	shift
	shown "$ns" ssdp-proxy "$@"
	nsx "$ns" "$SP" "$@" | sed 's/^/    /'
}
# log_lines SITE NS REGEX : show the lines of that proxy's log that match.
log_lines() {
	shown "$2" grep -E "'$3'" "$LAB_TMP/$1.log"
	grep -E -- "$3" "$LAB_TMP/$1.log" | sed 's/^/    /'
}
idle() { # SITE : no search is pending at that site's proxy
	nsx "${1}router" "$SP" status --json --control-socket "$LAB_TMP/$1.sock" |
		python3 -c 'import json, sys; s = json.load(sys.stdin); sys.exit(s["pendingSearches"] + s["remoteSearches"] > 0)'
}
both_idle() { idle a && idle b; }
# browse : show and run avahi-browse -rt for printers on B's LAN; its output stays in $LAB_TMP/browse.txt.
browse() {
	shown blan avahi-browse -rt _ipp._tcp
	avahi_in blan avahi-browse -rt _ipp._tcp 2>&1 | tee "$LAB_TMP/browse.txt" | sed 's/^/    /' || true
}
resolved() { grep -q 'address = \[192.168.1.10\]' "$LAB_TMP/browse.txt" && grep -q 'address = \[fd01::10\]' "$LAB_TMP/browse.txt"; }

t0=$(date +%s)
section "1. The network"
say "Two sites, A and B. Each has a router (arouter, brouter) and a LAN with one host" \
	"(alan 192.168.1.10, blan 192.168.2.10). The routers are joined by a routed" \
	"point-to-point link, 10.0.0.1 -- 10.0.0.2, standing in for a WireGuard" \
	"site-to-site VPN: unicast is routed between the LANs, multicast never crosses." \
	"minidlna, a DLNA media server, runs on alan, and avahi-daemon on alan and blan (alan's" \
	"publishes a printer over mDNS, for section 5). Building it..."
ssdp_topology_up a b
lan_up a 1
lan_up b 2
lan6_up a 1
lan6_up b 2
ssdp_helpers_write
require_wait 5 "blan reaches alan across the link (routed unicast)" nsx blan ping -c 1 -W 1 192.168.1.10
minidlna_up
avahi_up alan hosta
avahi_up blan hostb
avahi_publish alan "Printer A" _ipp._tcp 631

section "2. Without the proxies, B's LAN finds nothing"
say "A TV on B's LAN looks for media servers with SSDP: an M-SEARCH multicast to" \
	"239.255.255.250:1900. It stays on B's LAN, so minidlna never hears it."
search
require "the search finds nothing" not found

section "3. ssdp-proxy on both routers"
say "Each router names the other as its peer and reads the same key file (32 random" \
	"bytes in hex, as 'openssl rand -hex 32' makes); every relay datagram carries an" \
	"HMAC-SHA256 made with it."
conf a '["lan0"]' '["10.0.0.2"]'
conf b '["lan0"]' '["10.0.0.1"]'
for s in a b; do
	run "${s}router" cat "$LAB_TMP/$s.json"
	shown "${s}router" ssdp-proxy --config "$LAB_TMP/$s.json" "&"
	ssdp_proxy_start "$s" "$SP"
done
require_wait 5 "both proxies joined the SSDP groups on their LAN" ssdp_logs_have "joined ff02::c on lan0"
say "What they logged: each listens on its LAN's port 1900, relays to the other on UDP" \
	"1901, and joined the SSDP groups (IPv4 and IPv6) on its LAN."
log_lines a arouter 'INFO'
log_lines b brouter 'INFO'

section "4. The same search now finds minidlna at A"
say "brouter sends the search over the link to arouter, which multicasts it on A's" \
	"LAN and relays minidlna's reply back; brouter sends it, from its own LAN address," \
	"to the port the client searched from."
search
require "the search finds minidlna's LOCATION $URL" found
log_lines b brouter 'DEBUG (search|reply)'
log_lines a arouter 'DEBUG search'
say "The LOCATION URL is reachable across the VPN, so B fetches the description:"
shown blan "curl -fsS $URL | grep -o '<friendlyName>[^<]*</friendlyName>'"
nsx blan curl -fsS "$URL" | grep -o '<friendlyName>[^<]*</friendlyName>' | sed 's/^/    /' || true
require "curl from B's LAN reads minidlna's friendly name" \
	sh -c "ip netns exec $(ns_name blan) curl -fsS $URL | grep -q '<friendlyName>e2e-minidlna<'"

section "5. mDNS too: a printer at A, found from B"
say "Printers, AirPlay speakers and Chromecasts announce themselves with multicast DNS" \
	"(224.0.0.251 and ff02::fb, port 5353), which stops at the router just as SSDP does." \
	"avahi on alan (hosta.local) publishes a printer; avahi on blan looks for printers:"
browse
require "B finds no printer yet" not grep -q 'Printer A' "$LAB_TMP/browse.txt"
say "'mdns': true in both configurations (or --mdns), and a SIGHUP: the proxies now relay" \
	"mDNS over the same link, key and peers, and share port 5353 with any responder on" \
	"the router (bound to the group, not the wildcard)."
conf a '["lan0"]' '["10.0.0.2"]' '"mdns": true'
conf b '["lan0"]' '["10.0.0.1"]' '"mdns": true'
for s in a b; do
	shown "${s}router" kill -HUP "\$(cat $LAB_TMP/$s.pid)"
	kill -HUP "$(cat "$LAB_TMP/$s.pid")"
done
require_wait 5 "both proxies relay mDNS" ssdp_logs_have "relaying mDNS on port 5353 of lan0"
browse
require "avahi-browse on B's LAN resolves Printer A to hosta.local, 192.168.1.10 and fd01::10" resolved
say "B's avahi asked for printers; brouter relayed the query, arouter multicast it on A's" \
	"LAN from its own address, and relayed the answer back, which brouter multicast on B's" \
	"LAN: every host at B now knows the printer. Link-local addresses never cross."

section "6. What the proxies counted"
say "A search is forgotten MX + 1 s after it was made; later replies would be dropped."
require_wait 5 "neither proxy has a search pending any more" both_idle
sp arouter status --control-socket "$LAB_TMP/a.sock"
sp brouter status --control-socket "$LAB_TMP/b.sock"
say "" "Done in $(($(date +%s) - t0)) s. The namespaces are removed now."
