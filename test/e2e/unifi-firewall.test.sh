#!/usr/bin/env bash
# shellcheck disable=SC2317 # helpers are invoked through check/wait_for
# test/e2e/unifi-firewall.test.sh - the proxies on gateways whose firewall is UniFi's
# (issue 20; test/lab/unifi-firewall.sh: its chains and default drops through
# iptables-legacy, re-provisioned on demand as UniFi's controller does):
#
#   a. udp-tunnel between two gateways over their WANs (pre-zone layout on h1, zone-based
#      on h2): with --firewall off the tunnel carries nothing and status says which rule
#      to add in UniFi; by default (auto) it opens the data port to the remote only, in a
#      chain of its own jumped to from the top of INPUT, and traffic flows
#   b. three re-provisionings during a ping: the rules are back within 5 s each, never
#      twice; new flows (conntrack flushed, as after an idle period) go through
#   c. ssdp-proxy across the site-to-site link that UniFi classes as WAN (pre-zone) or as
#      its VPN zone: a search from B's LAN finds minidlna at A only once the relay port
#      is open to the peer
#   d. udp-proxy opens its listen port to its allow list only
#   e. on stop, the table is UniFi's again, byte for byte; a plain host is never touched
#
# Run as root: test/e2e/unifi-firewall.test.sh   (needs dist/*-linux-x64; ~60 s)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=test/e2e/lib.sh
. "$here/lib.sh"
need_root
need_cmd ip python3 minidlnad iptables-legacy-save iptables-legacy-restore ip6tables-legacy-restore conntrack setsid
t0=$(date +%s)
UT="$root/dist/udp-tunnel-linux-x64"
SP="$root/dist/ssdp-proxy-linux-x64"
UP="$root/dist/udp-proxy-linux-x64"
for exe in "$UT" "$SP" "$UP"; do [ -x "$exe" ] || bail "$exe is missing" "build it: make build"; done

# shellcheck source=test/lab/unifi-firewall.sh
. "$here/../lab/unifi-firewall.sh"
# shellcheck source=test/lab/udp-tunnel.sh
. "$here/../lab/udp-tunnel.sh"
# shellcheck source=test/lab/ssdp-proxy.sh
. "$here/../lab/ssdp-proxy.sh"

# fw_start NS NAME EXE ARGS... : a proxy in NS with UniFi's state file of NS; pid in LAB_BG_PID
fw_start() {
	local ns=$1 name=$2 exe=$3
	shift 3
	export UDM_PROXIES_UNIFI_STATE_FILE="$LAB_TMP/$ns.state"
	daemon_start "$ns" "$name" "$name runs on $ns" "$exe" "$@" \
		--control-socket "$LAB_TMP/$name.sock" --pid-file "$LAB_TMP/$name.pid" --log "$LAB_TMP/$name.log"
	unset UDM_PROXIES_UNIFI_STATE_FILE
}
# chain_rules NS CHAIN : the rules of CHAIN (IPv4)
chain_rules() { nsx "$1" iptables-legacy -S "$2" 2>/dev/null | grep -c '^-A' || true; }
# jumps NS CHAIN : how many rules of INPUT jump to CHAIN
jumps() { nsx "$1" iptables-legacy -S INPUT | grep -c -- "-j $2\$" || true; }
first_input_rule_is() { [ "$(nsx "$1" iptables-legacy -S INPUT | sed -n 2p)" = "-A INPUT -m comment --comment \"udm-proxies:$2\" -j $3" ] || { nsx "$1" iptables-legacy -S INPUT; return 1; }; }
status_has() { nsx "$1" "$2" status --control-socket "$LAB_TMP/$3.sock" | grep -qF -- "$4" || { nsx "$1" "$2" status --control-socket "$LAB_TMP/$3.sock"; return 1; }; }
ping_lan() { nsx lan1 ping -c 1 -W 1 192.168.2.2 >/dev/null; }
flush_ct() { local ns; for ns in "$@"; do nsx "$ns" conntrack -F >/dev/null 2>&1 || true; done; }

# ------------------------------------------------------------------ a. udp-tunnel
echo "# a. udp-tunnel through UniFi's WAN drop"
tunnel_underlay_up
tunnel_host_add 1
tunnel_host_add 2
require_wait 5 "underlay: h1 reaches h2" nsx h1 ping -c 1 -W 1 192.0.2.2
unifi_fw_up h1 pre-zone eth0 wgsts1000 lan0 br20
unifi_fw_up h2 zones eth0 wgsts1000 lan0 br20
template_h1=$(unifi_fw_save h1 4)
template6_h1=$(unifi_fw_save h1 6)
check "UniFi's WAN drop is real: h1 cannot ping h2's WAN address" not nsx h1 ping -c 1 -W 1 192.0.2.2

tunnel_up() { # MODE
	fw_start h1 h1 "$UT" serve --firewall "$1"
	H1=$LAB_BG_PID
	fw_start h2 h2 "$UT" serve --firewall "$1"
	H2=$LAB_BG_PID
	nsx h1 "$UT" ctl -s 127.0.0.1 -o add -n udp2 -t 10.0.1.1 -r 192.0.2.2 --route 192.168.2.0/24 >/dev/null
	nsx h2 "$UT" ctl -s 127.0.0.1 -o add -n udp1 -t 10.0.1.2 -r 192.0.2.1 --route 192.168.1.0/24 >/dev/null
}
tunnel_down() { bg_stop "$H1"; bg_stop "$H2"; }

tunnel_up off
# A new tun device talks for its first second (MLD reports; router solicitations at 0, 4,
# 12, 28 s ... too, were IPv6 forwarding off: test/lab/udp-tunnel.sh): datagrams both ways
# between the same ports would open each side's conntrack for the other, as hole punching
# does. Wait until the tunnels are quiet.
tx_of() { nsx "$1" "$UT" status --control-socket "$LAB_TMP/$1.sock" --json | node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>console.log(JSON.parse(s).tunnels.reduce((n,t)=>n+t.txPackets,0)))'; }
quiet() { local a b; a="$(tx_of h1) $(tx_of h2)"; sleep 3; b="$(tx_of h1) $(tx_of h2)"; [ "$a" = "$b" ]; }
wait_for 40 "a1: the new tunnels are quiet (3 s without a datagram sent)" quiet
flush_ct h1 h2
check "a1: --firewall off: nothing crosses the tunnel" not ping_lan
check "a1: ... no chain written" bash -c "! ip netns exec $(ns_name h1) iptables-legacy -S UDM_PROXIES_UDP_TUNNEL 2>/dev/null"
wait_for 5 "a1: ... status names the rule to add in UniFi" status_has h1 "$UT" h1 "udp 5000 from 192.0.2.2/32 (data port)"
check "a1: ... and says where in UniFi's settings" status_has h1 "$UT" h1 "Settings > Security > Firewall"
check "a1: ... and that the table in force drops that peer, by which rule" status_has h1 "$UT" h1 "udp 5000 from 192.0.2.2/32 (data port): DROPPED from 192.0.2.2/32 on eth0 by: -A UBIOS_WAN_LOCAL_USER -j DROP"
# The owner adds the rule in UniFi (here by hand into UniFi's chain, as UniFi would write it).
nsx h1 iptables-legacy -I UBIOS_WAN_LOCAL_USER 1 -s 192.0.2.2/32 -p udp -m udp --dport 5000 -j RETURN
wait_for 5 "a1: once the owner's rule is there, status says it lets the peer in" status_has h1 "$UT" h1 "let in from 192.0.2.2/32 on eth0 by: INPUT policy ACCEPT"
check "a1: ... and no longer asks for a rule" not status_has h1 "$UT" h1 "Settings > Security > Firewall"
unifi_provision h1
tunnel_down

tunnel_up auto
wait_for 5 "a2: auto: h1 opened its data port to h2 in its own chain" bash -c "[ \"\$(ip netns exec $(ns_name h1) iptables-legacy -S UDM_PROXIES_UDP_TUNNEL | grep -c -- '-s 192.0.2.2/32 -p udp -m udp --dport 5000 -m comment --comment \"udm-proxies:udp-tunnel data port\" -j ACCEPT')\" = 1 ]"
wait_for 5 "a2: ... and h2 (zone-based layout) to h1" bash -c "ip netns exec $(ns_name h2) iptables-legacy -S UDM_PROXIES_UDP_TUNNEL | grep -q -- '-s 192.0.2.1/32'"
check "a2: the jump is the first rule of INPUT, ahead of UniFi's hook" first_input_rule_is h1 udp-tunnel UDM_PROXIES_UDP_TUNNEL
check "a2: nothing opened to anyone else (one rule)" bash -c "[ \$(ip netns exec $(ns_name h1) iptables-legacy -S UDM_PROXIES_UDP_TUNNEL | grep -c '^-A') = 1 ]"
flush_ct h1 h2
wait_for 5 "a2: lan1 pings lan2 through the tunnel, conntrack flushed first" ping_lan
check "a2: the log says what was opened, once" bash -c "[ \$(grep -c 'firewall: IPv4: opened in chain UDM_PROXIES_UDP_TUNNEL' '$LAB_TMP/h1.log') = 1 ]"
check "a2: status shows the chain in place" status_has h1 "$UT" h1 "chain UDM_PROXIES_UDP_TUNNEL in place"
check "a2: a stranger's datagram to the data port is still dropped" bash -c "! ip netns exec $(ns_name h1) iptables-legacy -S UDM_PROXIES_UDP_TUNNEL | grep -q -- '-p udp -m udp --dport 5000 -m comment --comment \"udm-proxies:udp-tunnel data port\" -j ACCEPT\$' || ip netns exec $(ns_name h1) iptables-legacy -S UDM_PROXIES_UDP_TUNNEL | grep -q -- '-s 192.0.2.2/32'"

# ------------------------------------------------------------------ b. re-provisioning
echo "# b. UniFi re-provisions three times while traffic runs"
bg_in lan1 "$LAB_TMP/ping.out" ping -i 0.2 -W 1 192.168.2.2
PING=$LAB_BG_PID
rules_back() { [ "$(jumps h1 UDM_PROXIES_UDP_TUNNEL)" = 1 ] && [ "$(chain_rules h1 UDM_PROXIES_UDP_TUNNEL)" = 1 ]; }
times=()
for i in 1 2 3; do
	sleep 1
	start=$(date +%s%N)
	unifi_provision h1
	unifi_provision h2
	gone=$(jumps h1 UDM_PROXIES_UDP_TUNNEL)
	if poll 5 rules_back; then
		ms=$((($(date +%s%N) - start) / 1000000))
		times+=("$ms")
		ok "b$i: rebuild $i: rules gone ($gone jumps left) and back within 5 s (${ms} ms)"
	else
		fail "b$i: rebuild $i: rules back within 5 s" "$(nsx h1 iptables-legacy -S)"
	fi
	wait_for 5 "b$i: ... on h2 too" bash -c "ip netns exec $(ns_name h2) iptables-legacy -S UDM_PROXIES_UDP_TUNNEL | grep -q -- '-s 192.0.2.1/32'"
	flush_ct h1 h2
	wait_for 5 "b$i: ... a new flow (conntrack flushed) crosses the tunnel" ping_lan
done
bg_stop "$PING"
echo "# rules back after each rebuild: ${times[*]} ms"
check "b4: never duplicated: one jump, one rule" rules_back
check "b4: the log says each put-back" bash -c "[ \$(grep -c 'IPv4 rules put back after the firewall was rebuilt' '$LAB_TMP/h1.log') = 3 ]"
check "b4: status counts them" status_has h1 "$UT" h1 "put back 3 times"
nsx h1 "$UT" ctl -s 127.0.0.1 -o add -n udp9 -t 10.0.9.1 -r 192.0.2.66 >/dev/null
wait_for 5 "b5: a tunnel added at run time opens the port to its remote" bash -c "ip netns exec $(ns_name h1) iptables-legacy -S UDM_PROXIES_UDP_TUNNEL | grep -q -- '-s 192.0.2.66/32'"
nsx h1 "$UT" ctl -s 127.0.0.1 -o del -n udp9 >/dev/null
wait_for 5 "b5: ... and deleting it closes it again" bash -c "! ip netns exec $(ns_name h1) iptables-legacy -S UDM_PROXIES_UDP_TUNNEL | grep -q -- '-s 192.0.2.66/32'"
tunnel_down
check "e1: after udp-tunnel stops, h1's table is UniFi's template again, byte for byte" \
	bash -c "[ \"\$(cat <<'X'
$template_h1
X
)\" = \"\$(ip netns exec $(ns_name h1) iptables-legacy-save -t filter | grep -v '^#' | sed 's/ \\[[0-9]*:[0-9]*\\]\$/ [0:0]/')\" ]"
check "e1: ... IPv6 too" bash -c "[ \"\$(cat <<'X'
$template6_h1
X
)\" = \"\$(ip netns exec $(ns_name h1) ip6tables-legacy-save -t filter | grep -v '^#' | sed 's/ \\[[0-9]*:[0-9]*\\]\$/ [0:0]/')\" ]"
check "e1: the log says it removed its chain" grep -q 'chain UDM_PROXIES_UDP_TUNNEL and its jump removed' "$LAB_TMP/h1.log"

# ------------------------------------------------------------------ c. ssdp-proxy
echo "# c. ssdp-proxy across a site-to-site link UniFi does not let in"
ssdp_two_sites_up
unifi_fw_up arouter zones eth9 vpnab lan0 br20
unifi_fw_up brouter pre-zone eth9 vpnab lan0 br20
search_finds_minidlna() { nsx blan python3 "$PY" search upnp:rootdevice 2 4 | grep -q 'http://192.168.1.10:8200/rootDesc.xml'; }
ssdp_up() { # MODE
	fw_start arouter a "$SP" --config "$LAB_TMP/a.json" --firewall "$1"
	SPA=$LAB_BG_PID
	fw_start brouter b "$SP" --config "$LAB_TMP/b.json" --firewall "$1"
	SPB=$LAB_BG_PID
}
ssdp_up off
flush_ct arouter brouter
check "c1: --firewall off: a search from B's LAN finds nothing at A" not search_finds_minidlna
check "c1: ... status names the rule to add" status_has brouter "$SP" b "udp 1901 from 10.0.0.1/32 (relay port)"
bg_stop "$SPA"
bg_stop "$SPB"
ssdp_up auto
wait_for 5 "c2: auto: A opened its relay port to B only (zone-based layout)" bash -c "ip netns exec $(ns_name arouter) iptables-legacy -S UDM_PROXIES_SSDP_PROXY | grep -q -- '-s 10.0.0.2/32 -p udp -m udp --dport 1901'"
wait_for 5 "c2: ... and B to A (pre-zone layout)" bash -c "ip netns exec $(ns_name brouter) iptables-legacy -S UDM_PROXIES_SSDP_PROXY | grep -q -- '-s 10.0.0.1/32 -p udp -m udp --dport 1901'"
flush_ct arouter brouter
wait_for 10 "c2: a search from B's LAN finds minidlna at A" search_finds_minidlna
unifi_provision arouter
unifi_provision brouter
flush_ct arouter brouter
wait_for 5 "c3: after a re-provisioning, a new search finds it again" search_finds_minidlna
bg_stop "$SPA"
bg_stop "$SPB"

# ------------------------------------------------------------------ d. udp-proxy
echo "# d. udp-proxy: its listen port, from its allow list"
fw_start arouter up "$UP" --listen 5353 --upstream 192.168.1.10:53 --allow 10.0.0.0/30 --allow fd00:ab::/64
UPP=$LAB_BG_PID
wait_for 5 "d1: IPv4: the listen port from the allow list" bash -c "ip netns exec $(ns_name arouter) iptables-legacy -S UDM_PROXIES_UDP_PROXY | grep -q -- '-s 10.0.0.0/30 -p udp -m udp --dport 5353'"
wait_for 5 "d1: IPv6 likewise" bash -c "ip netns exec $(ns_name arouter) ip6tables-legacy -S UDM_PROXIES_UDP_PROXY | grep -q -- '-s fd00:ab::/64 -p udp -m udp --dport 5353'"
check "d1: one rule each" bash -c "[ \$(ip netns exec $(ns_name arouter) iptables-legacy -S UDM_PROXIES_UDP_PROXY | grep -c '^-A') = 1 ]"
bg_stop "$UPP"

# ------------------------------------------------------------------ e. a plain host
echo "# e. a plain Linux host is never touched"
fw_start alan plain "$UP" --listen 5353 --upstream 192.168.1.1:53
PLAIN=$LAB_BG_PID
wait_for 5 "e2: auto on a host without UniFi's chains: status says nothing was opened" status_has alan "$UP" plain "nothing opened"
check "e2: ... and no legacy filter table was created there" bash -c "! ip netns exec $(ns_name alan) grep -qx filter /proc/net/ip_tables_names 2>/dev/null"
bg_stop "$PLAIN"

echo "# $(($(date +%s) - t0))s"
finish
