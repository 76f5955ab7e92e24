#!/usr/bin/env bash
# shellcheck disable=SC2317 # helpers are invoked through check/wait_for
# test/e2e/mdns-reflector.test.sh - ssdp-proxy --mdns beside UniFi's own mDNS (issue 20,
# item 4): with "Multicast DNS" on, a UniFi gateway runs avahi as a reflector on its LAN
# bridges. Each site here has two LANs (lan0, lan1) and its router relays mDNS to the
# other site with ssdp-proxy --mdns; the same scene runs twice, without and then with an
# avahi reflector on both routers' LANs:
#
#   alan 192.168.1.10 (Printer A)  -lan0-  arouter  -lan1-  a2lan 192.168.11.10 (Speaker A2)
#                                            | vpnab (10.0.0.1 -- 10.0.0.2)
#   blan 192.168.2.10 (browser)    -lan0-  brouter  -lan1-  b2lan 192.168.12.10 (browser)
#
#   a. without the reflector: B's LANs find A's services through the relay
#   b. with it: still found, one answer each; no loop and no duplicate storm: the mDNS
#      frames on each LAN over the same window stay within what that LAN and its sibling
#      (the reflector's other side) had without the reflector, and the window's last 10 s
#      are quiet
#   c. nothing renamed: no avahi logs a name conflict, and the names browsed are the
#      published ones ("Printer A", not "Printer A #2")
#
# Run as root (needs dist/ssdp-proxy-linux-x64, avahi-daemon, avahi-utils, dbus-daemon,
# tcpdump; about 90 s)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=test/e2e/lib.sh
. "$here/lib.sh"
need_root
need_cmd ip tcpdump setsid unshare avahi-daemon avahi-browse avahi-publish dbus-daemon
t0=$(date +%s)
WINDOW=${MDNS_WINDOW:-30} # seconds of counting per run
SP="$root/dist/ssdp-proxy-linux-x64"
[ -x "$SP" ] || bail "$SP is missing" "build it: node scripts/build/build.mjs --target linux-x64 ssdp-proxy"

# shellcheck source=test/lab/ssdp-proxy.sh
. "$here/../lab/ssdp-proxy.sh"
ssdp_topology_up a b
lan_up a 1
lan_up b 2
ns_add a2lan
ns_add b2lan
p2p a2lan eth0 192.168.11.10/24 arouter lan1 192.168.11.1/24
p2p b2lan eth0 192.168.12.10/24 brouter lan1 192.168.12.1/24
nsx a2lan ip route add default via 192.168.11.1
nsx b2lan ip route add default via 192.168.12.1
nsx brouter ip route add 192.168.11.0/24 via 10.0.0.1
nsx arouter ip route add 192.168.12.0/24 via 10.0.0.2
ssdp_helpers_write
conf a '["lan0", "lan1"]' '["10.0.0.2"]' '"mdns": true'
conf b '["lan0", "lan1"]' '["10.0.0.1"]' '"mdns": true'

LANS=(alan a2lan blan b2lan)
avahi_up alan hosta
avahi_up a2lan hosta2
avahi_up blan hostb
avahi_up b2lan hostb2
avahi_publish alan "Printer A" _ipp._tcp 631
avahi_publish a2lan "Speaker A2" _airplay._tcp 7000

# browse NS TYPE : the service names avahi-browse -rt resolves there, one per line, sorted
browse() { avahi_in "$1" avahi-browse -rtp "$2" 2>/dev/null | awk -F';' '$1 == "=" && $3 == "IPv4" { print $4 }' | sort; }
found_once() { # NS TYPE NAME : NAME resolved, exactly once per address family and interface
	local out
	out=$(browse "$1" "$2")
	[ "$out" = "$3" ] || { echo "browsed at $1: ${out:-nothing}"; return 1; }
}
# scene LABEL : proxies up, captures on every LAN for WINDOW seconds, browsing from B's LANs
scene() {
	local l
	ssdp_proxy_start a "$SP"
	SPA=$LAB_BG_PID
	ssdp_proxy_start b "$SP"
	SPB=$LAB_BG_PID
	require_wait 5 "$1: both proxies relay mDNS on both LANs" bash -c "grep -q 'relaying mDNS on port 5353 of lan0, lan1' '$LAB_TMP/a.log' && grep -q 'relaying mDNS on port 5353 of lan0, lan1' '$LAB_TMP/b.log'"
	for l in "${LANS[@]}"; do cap_start "$1-$l" "$l" eth0 udp port 5353; done
	local start=$SECONDS
	wait_for 10 "$1: blan finds Printer A through the relay, once" found_once blan _ipp._tcp 'Printer\032A'
	wait_for 10 "$1: b2lan finds Speaker A2 (A's other LAN), once" found_once b2lan _airplay._tcp 'Speaker\032A2'
	sleep $((WINDOW - (SECONDS - start) > 10 ? WINDOW - (SECONDS - start) - 10 : 0))
	for l in "${LANS[@]}"; do cap_stop "$1-$l"; cap_start "$1-tail-$l" "$l" eth0 udp port 5353; done
	sleep 10
	for l in "${LANS[@]}"; do cap_stop "$1-tail-$l"; done
	bg_stop "$SPA"
	bg_stop "$SPB"
}
frames() { grep -cE '^[0-9:.]+ IP6? ' "$LAB_TMP/cap-$1.txt" || true; }

echo "# a. without UniFi's reflector"
scene plain
echo "# b. with an avahi reflector on both routers' LANs"
avahi_up arouter routera lan0,lan1 reflector
avahi_up brouter routerb lan0,lan1 reflector
scene reflector
declare -A P=() R=() SIBLING=([alan]=a2lan [a2lan]=alan [blan]=b2lan [b2lan]=blan)
for l in "${LANS[@]}"; do
	P[$l]=$(($(frames "plain-$l") + $(frames "plain-tail-$l")))
	R[$l]=$(($(frames "reflector-$l") + $(frames "reflector-tail-$l")))
	echo "# $l: ${P[$l]} mDNS frames in ${WINDOW} s without the reflector, ${R[$l]} with it"
done
for l in "${LANS[@]}"; do
	# A reflector copies what the site's other LAN says: at most that many more, and a little.
	most=$((P[$l] + P[${SIBLING[$l]}] + 10))
	check "b: $l: no duplicate storm with the reflector: ${R[$l]} frames, at most $most (its own and its sibling LAN's without it, + 10)" \
		test "${R[$l]}" -le "$most"
	check "b: $l: no loop: the last 10 s are quiet ($(frames "reflector-tail-$l") frames)" test "$(frames "reflector-tail-$l")" -le 20
done

echo "# c. nothing renamed"
for ns in alan a2lan blan b2lan arouter brouter; do
	check "c: avahi in $ns logs no name conflict" not grep -qiE 'conflict|withdrawing' "$LAB_TMP/avahi-$ns/avahi.out"
done
check "c: A's services keep their names" bash -c "grep -q 'Established under name .Printer A.' '$LAB_TMP'/avahi-alan/publish-*.out && ! grep -q '#2' '$LAB_TMP'/avahi-alan/publish-*.out"

echo "# $(($(date +%s) - t0))s"
finish
