#!/usr/bin/env bash
# shellcheck disable=SC2317 # helpers are invoked through check/wait_for
# test/lab/vm/guest/unifi.sh - inside the arm64 guest: two UniFi-shaped gateways (issue
# 20) and the arm64 proxies between them.
#
#   inet 192.0.2.0/24 (a bridge standing for the internet)
#     |                                      |
#   eth8 192.0.2.1   gw1 (pre-zone)        eth8 192.0.2.2   gw2 (zone-based)
#   wgsts1000 10.255.0.1 ====(WireGuard over the WANs, UDP 20000)==== 10.255.0.2
#   br0 192.168.1.1 - lan1 .10 (an SSDP device)   br0 192.168.2.1 - lan2 .10
#   br20 192.168.21.1 - iot1 .10                   br20 192.168.22.1 - iot2 .10
#
# Each gateway has UniFi's filter table (test/lab/unifi-firewall.sh's template, both
# layouts) through iptables-legacy only (no nft in the guest), UniFi's interface names of
# a UDM-Pro, an avahi reflector on br0 and br20 (UniFi's mDNS), and a provisioner: the
# unit unifi-provision@GW (guest/unifi-provision.sh) rebuilds the whole table from the
# template and touches the gateway's state file, on demand and on a timer at random
# intervals. The proxies: udp-tunnel between the WANs (site1/site2), ssdp-proxy relaying
# over wgsts1000 (classed as WAN before zones, as its VPN zone after).
#
#   a. --firewall off: the tunnel and the relay carry nothing; status names the rules
#   b. auto (the default): each opens exactly its port to its peer; traffic flows
#   c. three re-provisionings during a ping, an iperf3 run through the tunnel and
#      searches across the relay: rules back and new flows (conntrack flushed) through
#      within 5 s of each; rule counts unchanged
#   d. gw1's WAN address changes; then its WAN is re-created as ppp0 and bounced
#   e. on stop, each table is UniFi's template again, byte for byte
set -euo pipefail
cd /mnt/repo
. test/e2e/lib.sh
need_root
need_cmd ip python3 iperf3 iptables-legacy-save iptables-legacy-restore ip6tables-legacy-restore conntrack avahi-daemon systemctl
REL=${UDMVM_RELEASE:-/mnt/release}
UT=$REL/udp-tunnel-linux-arm64
SP=$REL/ssdp-proxy-linux-arm64
t0=$(date +%s)
for m in veth bridge tun nf_conntrack_netlink; do modprobe "$m"; done
# shellcheck source=test/lab/unifi-firewall.sh
. test/lab/unifi-firewall.sh
# shellcheck source=test/lab/ssdp-proxy.sh
. test/lab/ssdp-proxy.sh
# Site Magic's WireGuard port, which UniFi itself lets in on the WAN.
export UNIFI_FW_WAN_UDP=20000

echo "# the guest is UniFi-shaped (at $(($(date +%s) - t0)) s)"
check "no nft on PATH (iptables-legacy only, as UniFi's kernels have no nf_tables)" not command -v nft
check "iptables is the legacy one" sh -c "iptables -V | grep -q legacy"

# ------------------------------------------------------------------ topology
ns_add inet
nsx inet ip link add sw0 type bridge
nsx inet ip link set sw0 up
wan_add() { # GW IFACE ADDRESS: the gateway's WAN port on the internet bridge
	ip link add "$2" netns "$(ns_name "$1")" type veth peer name "$1-$2" netns "$(ns_name inet)"
	nsx inet ip link set "$1-$2" master sw0 up
	nsx "$1" ip addr add "$3/24" dev "$2"
	nsx "$1" ip link set "$2" up
}
lan_add() { # GW BRIDGE HOST NET: a LAN bridge on GW with one host on it
	ns_add "$3"
	nsx "$1" ip link add "$2" type bridge mcast_snooping 0
	ip link add "p-$3" netns "$(ns_name "$1")" type veth peer name eth0 netns "$(ns_name "$3")"
	nsx "$1" ip link set "p-$3" master "$2" up
	nsx "$1" ip addr add "$4.1/24" dev "$2"
	nsx "$1" ip link set "$2" up
	nsx "$3" ip addr add "$4.10/24" dev eth0
	nsx "$3" ip link set eth0 up
	nsx "$3" ip route add default via "$4.1"
}
for i in 1 2; do
	ns_add "gw$i"
	# A router forwards IPv6 too; a host would send router solicitations into each tun at
	# 0, 4, 12, 28 s ... from its start, and each opens conntrack for the peer's datagrams.
	ns_sysctl "gw$i" net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	wan_add "gw$i" eth8 "192.0.2.$i"
	lan_add "gw$i" br0 "lan$i" "192.168.$i"
	lan_add "gw$i" br20 "iot$i" "192.168.2$i"
done
# wgsts1000: a real WireGuard link when the kernel has it, else a veth stand-in.
modprobe wireguard 2>/dev/null || true
if command -v wg >/dev/null && nsx gw1 ip link add wgsts1000 type wireguard 2>/dev/null; then
	WG_KIND=wireguard
	nsx gw2 ip link add wgsts1000 type wireguard
	for i in 1 2; do
		(umask 077 && wg genkey >"$LAB_TMP/wg$i.key")
		wg pubkey <"$LAB_TMP/wg$i.key" >"$LAB_TMP/wg$i.pub"
	done
	for i in 1 2; do
		j=$((3 - i))
		nsx "gw$i" wg set wgsts1000 listen-port 20000 private-key "$LAB_TMP/wg$i.key" \
			peer "$(cat "$LAB_TMP/wg$j.pub")" endpoint "192.0.2.$j:20000" allowed-ips 10.255.0.0/30
		nsx "gw$i" ip addr add "10.255.0.$i/30" dev wgsts1000
		nsx "gw$i" ip link set wgsts1000 up
	done
else
	WG_KIND="veth stand-in"
	ip link add wgsts1000 netns "$(ns_name gw1)" type veth peer name wgsts1000 netns "$(ns_name gw2)"
	for i in 1 2; do
		nsx "gw$i" ip addr add "10.255.0.$i/30" dev wgsts1000
		nsx "gw$i" ip link set wgsts1000 up
	done
fi
echo "# wgsts1000 is a $WG_KIND link ($(uname -r))"
unifi_fw_up gw1 pre-zone eth8 wgsts1000 br0 br20
unifi_fw_up gw2 zones eth8 wgsts1000 br0 br20
check "UniFi's WAN drop is real: gw1 cannot ping gw2's WAN address" not nsx gw1 ping -c 1 -W 1 192.0.2.2
check "UniFi drops what arrives over wgsts1000 too (as WAN before zones, its VPN zone after)" not nsx gw1 ping -c 1 -W 1 10.255.0.2
handshake() { nsx gw1 wg show wgsts1000 latest-handshakes | awk '$2 > 0 { ok = 1 } END { exit !ok }'; }
if [ "$WG_KIND" = wireguard ]; then
	wait_for 15 "WireGuard's handshake over the WANs completed (UniFi lets its own port 20000 in)" handshake
fi

# template_save GW FAMILY: UniFi's template of GW as iptables-legacy-save prints it (restored
# into a scratch namespace, so no daemon's rules race with it).
ns_add tmpl
template_save() {
	local restore=iptables-legacy-restore
	[ "$2" = 4 ] || restore=ip6tables-legacy-restore
	nsx tmpl "$restore" <"$LAB_TMP/$1.fw$2"
	unifi_fw_save tmpl "$2"
}

# ------------------------------------------------------------------ the provisioner
mkdir -p /run/udmvm-unifi
printf 'LAB_PREFIX=%q\nLAB_TMP=%q\nREPO=%q\nUNIFI_FW_WAN_UDP=%q\n' "$LAB_PREFIX" "$LAB_TMP" /mnt/repo "$UNIFI_FW_WAN_UDP" >/run/udmvm-unifi/env
cat >/run/systemd/system/unifi-provision@.service <<'EOF'
[Unit]
Description=UniFi's controller re-provisions gateway %i (test VM stand-in)
[Service]
Type=oneshot
ExecStart=/bin/bash /run/udmvm-guest/unifi-provision.sh %i
EOF
cat >/run/systemd/system/unifi-provision@.timer <<'EOF'
[Unit]
Description=UniFi re-provisions gateway %i now and then (a settings change somewhere)
[Timer]
OnActiveSec=25s
OnUnitActiveSec=20s
RandomizedDelaySec=40s
AccuracySec=100ms
EOF
systemctl daemon-reload
stop_provisioner() { systemctl stop unifi-provision@gw1.timer unifi-provision@gw2.timer 2>/dev/null || true; }
at_exit stop_provisioner
provision() { # GW...: on demand, as a settings change in UniFi's UI
	local gw
	for gw in "$@"; do systemctl start "unifi-provision@$gw.service"; done
}
require "the provisioner rebuilds gw1 on demand" provision gw1
check "... and touched its state file" test -f "$LAB_TMP/gw1.state"
table_is_template() { # GW FAMILY
	local want have
	want=$(template_save "$1" "$2")
	have=$(unifi_fw_save "$1" "$2")
	[ "$want" = "$have" ] || { diff <(echo "$want") <(echo "$have"); return 1; }
}
check "... from UniFi's template, whole (IPv4)" table_is_template gw1 4
check "... IPv6 too" table_is_template gw1 6
check "the provisioner's timers run (random rebuilds from now on)" systemctl start unifi-provision@gw1.timer unifi-provision@gw2.timer

# ------------------------------------------------------------------ UniFi's mDNS
# avahi-daemon with its reflector on both LAN bridges, as UniFi's "Multicast DNS"; no
# D-Bus (not needed to reflect), a private /run each.
avahi_reflector_up() { # GW
	local d="$LAB_TMP/avahi-$1"
	mkdir -p "$d"
	cat >"$d/avahi.conf" <<EOF
[server]
host-name=$1
use-ipv4=yes
use-ipv6=no
allow-interfaces=br0,br20
enable-dbus=no
[wide-area]
enable-wide-area=no
[publish]
disable-publishing=yes
[reflector]
enable-reflector=yes
EOF
	bg_in "$1" "$d/avahi.out" unshare -m sh -c \
		"mount -t tmpfs lab-run /run && exec avahi-daemon -f $d/avahi.conf --no-drop-root --no-chroot --no-rlimits --no-proc-title"
}
for i in 1 2; do avahi_reflector_up "gw$i"; done
for i in 1 2; do
	wait_for 30 "gw$i: avahi reflector up on br0 and br20" sh -c \
		"grep -q 'Server startup complete' '$LAB_TMP/avahi-gw$i/avahi.out' && grep -q 'interface br0.IPv4' '$LAB_TMP/avahi-gw$i/avahi.out' && grep -q 'interface br20.IPv4' '$LAB_TMP/avahi-gw$i/avahi.out'"
done
cat >"$LAB_TMP/mdns.py" <<'EOF'
import socket, struct, sys, time
grp = "224.0.0.251"
if sys.argv[1] == "listen":  # print each mDNS query name seen on this LAN
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("", 5353))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(grp) + socket.inet_aton(sys.argv[2]))
    print("listening", flush=True)
    while True:
        d, frm = s.recvfrom(9000)
        print(frm[0], d[12:80], flush=True)
else:  # query: send one mDNS query for _vmtest._tcp.local from port 5353
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[2], 5353))
    q = b"".join(bytes([len(p)]) + p.encode() for p in ["_vmtest", "_tcp", "local"]) + b"\0"
    s.sendto(struct.pack("!6H", 0, 0, 1, 0, 0, 0) + q + struct.pack("!2H", 12, 1), (grp, 5353))
EOF
bg_in iot1 "$LAB_TMP/mdns-iot1.out" python3 -u "$LAB_TMP/mdns.py" listen 192.168.21.10
wait_for 10 "an mDNS listener on gw1's br20" grep -q listening "$LAB_TMP/mdns-iot1.out"
reflected() { nsx lan1 python3 "$LAB_TMP/mdns.py" query 192.168.1.10 && grep -q "_vmtest" "$LAB_TMP/mdns-iot1.out"; }
wait_for 10 "the reflector carries an mDNS query from br0 to br20 (UniFi's mDNS is on)" reflected

# ------------------------------------------------------------------ the proxies
ssdp_helpers_write
cat >"$LAB_TMP/device.py" <<'EOF'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 1900))
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton("239.255.255.250") + socket.inet_aton("192.168.1.10"))
print("listening", flush=True)
while True:
    data, frm = s.recvfrom(9000)
    if data.startswith(b"M-SEARCH"):
        s.sendto(b"HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\nUSN: uuid:vm::upnp:rootdevice\r\n"
                 b"LOCATION: http://192.168.1.10:8200/rootDesc.xml\r\nCACHE-CONTROL: max-age=1800\r\nEXT:\r\n\r\n", frm)
EOF
bg_in lan1 "$LAB_TMP/device.out" python3 -u "$LAB_TMP/device.py"
wait_for 10 "an SSDP device listens on gw1's LAN" grep -q listening "$LAB_TMP/device.out"
conf gw1 '["br0"]' '["10.255.0.2"]'
conf gw2 '["br0"]' '["10.255.0.1"]'

declare -A PIDS=() NSOF=() EXEOF=()
# launch NAME GW EXE ARGS...: a proxy on GW with GW's state file (not waited for).
launch() {
	local name=$1 gw=$2 exe=$3
	shift 3
	bg_in "$gw" "$LAB_TMP/$name.out" env UDM_PROXIES_UNIFI_STATE_FILE="$LAB_TMP/$gw.state" "$exe" "$@"
	PIDS[$name]=$LAB_BG_PID
	NSOF[$name]=$gw
	EXEOF[$name]=$exe
}
# ready NAME...: each answers on its status socket (they start side by side: the CPU is emulated).
ready() {
	local n
	for n in "$@"; do
		wait_for 60 "$n runs on ${NSOF[$n]} ($(basename "${EXEOF[$n]}"))" nsx "${NSOF[$n]}" "${EXEOF[$n]}" status --control-socket "$LAB_TMP/$n.sock"
	done
}
# stop NAME...: TERM to each, then time to take its chain away (an emulated CPU is slow).
stop() {
	local n _
	for n in "$@"; do kill -TERM "${PIDS[$n]}" 2>/dev/null || true; done
	for n in "$@"; do
		for _ in $(seq 150); do
			kill -0 "${PIDS[$n]}" 2>/dev/null || break
			sleep 0.1
		done
		bg_stop "${PIDS[$n]}"
	done
}
proxies_up() { # MODE: udp-tunnel and ssdp-proxy on both gateways, the tunnels added
	local i
	for i in 1 2; do
		launch "ut$i" "gw$i" "$UT" serve --firewall "$1" --control-socket "$LAB_TMP/ut$i.sock" \
			--pid-file "$LAB_TMP/ut$i.pid" --log "$LAB_TMP/ut$i.log"
		launch "gw$i" "gw$i" "$SP" --config "$LAB_TMP/gw$i.json" --firewall "$1"
	done
	ready ut1 ut2 gw1 gw2
	check "gw1: add the tunnel to site 2" nsx gw1 "$UT" ctl -s 127.0.0.1 -o add -n site2 -t 10.0.9.1 -r 192.0.2.2 --route 192.168.2.0/24
	check "gw2: add the tunnel to site 1" nsx gw2 "$UT" ctl -s 127.0.0.1 -o add -n site1 -t 10.0.9.2 -r 192.0.2.1 --route 192.168.1.0/24
	wait_for 30 "both ssdp-proxies joined the SSDP group on br0" \
		sh -c "grep -q 'joined 239' '$LAB_TMP/gw1.log' && grep -q 'joined 239' '$LAB_TMP/gw2.log'"
}
all_down() { stop ut1 ut2 gw1 gw2; }
flush_ct() { nsx gw1 conntrack -F >/dev/null 2>&1 || true; nsx gw2 conntrack -F >/dev/null 2>&1 || true; }
# New flows, one side starting them, with both conntrack tables flushed first.
ping_12() { flush_ct; nsx lan1 ping -c 1 -W 1 192.168.2.10 >/dev/null; }
ping_21() { flush_ct; nsx lan2 ping -c 1 -W 1 192.168.1.10 >/dev/null; }
pings_both() { ping_12 && ping_21; }
search_finds() { flush_ct; nsx lan2 python3 "$PY" search upnp:rootdevice 1 1.5 | grep -q 'http://192.168.1.10:8200/rootDesc.xml'; }
status_of() { nsx "$1" "$2" status --control-socket "$LAB_TMP/$3.sock" 2>&1; }
status_has() { status_of "$@" | grep -qF -- "$4" || { status_of "$@"; return 1; }; }
chain_rules() { nsx "$1" iptables-legacy -w 5 -S "$2" 2>/dev/null | grep -c '^-A' || true; }
jumps() { nsx "$1" iptables-legacy -w 5 -S INPUT | grep -c -- "-j $2\$" || true; }
# gw_back GW: one look (one iptables-save): one jump and one rule each for both proxies.
gw_back() {
	nsx "$1" iptables-legacy-save -t filter | awk '
		/^-A INPUT .* -j UDM_PROXIES_UDP_TUNNEL$/ { jt++ } /^-A INPUT .* -j UDM_PROXIES_SSDP_PROXY$/ { js++ }
		/^-A UDM_PROXIES_UDP_TUNNEL / { rt++ } /^-A UDM_PROXIES_SSDP_PROXY / { rs++ }
		END { exit !(jt == 1 && js == 1 && rt == 1 && rs == 1) }'
}
# rules_as_wanted: on each gateway one jump and one rule each for udp-tunnel and ssdp-proxy.
rules_as_wanted() { gw_back gw1 && gw_back gw2; }
has_rule() { nsx "$1" iptables-legacy -w 5 -S "$2" 2>/dev/null | grep -q -- "$3"; }

# ------------------------------------------------------------------ a. off
echo "# a. --firewall off: UniFi's drops stand (at $(($(date +%s) - t0)) s)"
proxies_up off
# A new tun device talks for its first second (MLD reports; router solicitations too, at
# 0, 4, 12, 28 s ..., if IPv6 forwarding were off: above): datagrams both ways between
# the same ports would open each side's conntrack for the other, as hole punching does.
# Wait until the tunnels are quiet, so "nothing crosses" is the firewall's doing.
tx_of() { nsx "$1" "$UT" status --control-socket "$LAB_TMP/$2.sock" --json | python3 -c 'import json, sys; print(sum(t["txPackets"] for t in json.load(sys.stdin)["tunnels"]))'; }
quiet() { local a b; a="$(tx_of gw1 ut1) $(tx_of gw2 ut2)"; sleep 3; b="$(tx_of gw1 ut1) $(tx_of gw2 ut2)"; [ "$a" = "$b" ]; }
wait_for 40 "a: the new tunnels are quiet (3 s without a datagram sent)" quiet
check "a: no chain written" not has_rule gw1 UDM_PROXIES_UDP_TUNNEL .
check "a: nothing crosses the tunnel, lan1 -> lan2 (conntrack flushed)" not ping_12
check "a: ... nor lan2 -> lan1" not ping_21
check "a: a search from lan2 finds nothing at site 1 across the relay" not search_finds
wait_for 10 "a: udp-tunnel's status names the rule to add (gw1, pre-zone)" status_has gw1 "$UT" ut1 "udp 5000 from 192.0.2.2/32 (data port)"
check "a: ... and where in UniFi's settings" status_has gw1 "$UT" ut1 "Settings > Security > Firewall"
check "a: ... and that UniFi's WAN chain drops that peer" status_has gw1 "$UT" ut1 "udp 5000 from 192.0.2.2/32 (data port): DROPPED from 192.0.2.2/32 on eth8 by: -A UBIOS_WAN_LOCAL_USER -j DROP"
check "a: ... on gw2 too (zone-based)" status_has gw2 "$UT" ut2 "udp 5000 from 192.0.2.1/32 (data port)"
wait_for 10 "a: ssdp-proxy's status names its rule (relay port from the peer over wgsts1000)" status_has gw2 "$SP" gw2 "udp 1901 from 10.255.0.1/32 (relay port)"
check "a: ... dropped by the VPN zone's chain on gw2 (zone-based)" status_has gw2 "$SP" gw2 "DROPPED from 10.255.0.1/32 on wgsts1000 by: -A UBIOS_VPN_LOCAL_USER -j DROP"
check "a: ... by the WAN chain on gw1 (pre-zone: the link is classed as WAN)" status_has gw1 "$SP" gw1 "DROPPED from 10.255.0.2/32 on wgsts1000 by: -A UBIOS_WAN_LOCAL_USER -j DROP"
all_down

# ------------------------------------------------------------------ b. auto
echo "# b. the default (auto): each opens its port to its peer (at $(($(date +%s) - t0)) s)"
proxies_up auto
wait_for 10 "b: gw1 (pre-zone) opened its data port to gw2 only" has_rule gw1 UDM_PROXIES_UDP_TUNNEL '-s 192.0.2.2/32 -p udp -m udp --dport 5000'
wait_for 10 "b: gw2 (zone-based) opened its data port to gw1 only" has_rule gw2 UDM_PROXIES_UDP_TUNNEL '-s 192.0.2.1/32 -p udp -m udp --dport 5000'
wait_for 10 "b: both relay ports open to the peer over wgsts1000" sh -c \
	"ip netns exec $(ns_name gw1) iptables-legacy -S UDM_PROXIES_SSDP_PROXY | grep -q -- '-s 10.255.0.2/32 -p udp -m udp --dport 1901' && ip netns exec $(ns_name gw2) iptables-legacy -S UDM_PROXIES_SSDP_PROXY | grep -q -- '-s 10.255.0.1/32 -p udp -m udp --dport 1901'"
wait_for 10 "b: one jump and one rule each, nothing more" rules_as_wanted
wait_for 5 "b: the jumps come first in INPUT, ahead of UniFi's hook" sh -c \
	"ip netns exec $(ns_name gw1) iptables-legacy -S INPUT | sed -n '2,3p' | grep -c udm-proxies | grep -qx 2"
wait_for 10 "b: lan1 -> lan2 through the tunnel (new flow, conntrack flushed)" ping_12
wait_for 10 "b: lan2 -> lan1" ping_21
wait_for 15 "b: a search from lan2 finds the device at site 1 across the relay" search_finds
check "b: status shows the chain in place (what doctor prints)" status_has gw1 "$UT" ut1 "chain UDM_PROXIES_UDP_TUNNEL in place"

# ------------------------------------------------------------------ c. re-provisioning
echo "# c. UniFi re-provisions both gateways, under traffic and quiet (at $(($(date +%s) - t0)) s)"
# searchloop.py WAIT: an M-SEARCH every 0.5 s until the device at site 1 answers (or
# WAIT s); prints the ms it took. loop SECONDS: one every 0.5 s for SECONDS, printing
# the epoch (s) of each answered one. No process per try: an emulated CPU starts python slowly.
cat >"$LAB_TMP/searchloop.py" <<'PYEOF'
import socket, sys, time
msg = b'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\nMX: 1\r\nST: upnp:rootdevice\r\n\r\n'
def one(s, wait):
    s.sendto(msg, ("239.255.255.250", 1900))
    end = time.time() + wait
    while time.time() < end:
        s.settimeout(max(0.01, end - time.time()))
        try:
            d, _ = s.recvfrom(9000)
        except socket.timeout:
            return False
        if b"192.168.1.10:8200" in d:
            return True
    return False
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 0))
t0 = time.time()
if sys.argv[1] == "loop":
    while time.time() - t0 < float(sys.argv[2]):
        t = time.time()
        if one(s, 0.5):
            print("%.3f" % t, flush=True)
        time.sleep(max(0, 0.5 - (time.time() - t)))
else:
    while time.time() - t0 < float(sys.argv[1]):
        if one(s, 0.5):
            print(int((time.time() - t0) * 1000))
            sys.exit(0)
    sys.exit(1)
PYEOF
since() { echo $((($(date +%s%N) - $1) / 1000000)); }
# rebuild: both gateways at once (one systemctl start: two jobs side by side), conntrack
# flushed after, as after an idle period. Sets T0 and T_END (ns): when it began, when both
# were done.
rebuild() {
	local p0
	p0=$(date +%s%N)
	T0=$p0
	systemctl start unifi-provision@gw1.service unifi-provision@gw2.service
	T_END=$(date +%s%N)
	flush_ct
	echo "# the provisioner rebuilt both in $(((T_END - p0) / 1000000)) ms"
}
# rules_back_ms: ms from T_END until one jump and one rule each are back on both gateways,
# as the daemons' own log lines tell it (the last 'rules put back' line since the rebuild
# began, every daemon and family: ISO times to the ms); looking with iptables-save in a loop
# on the emulated CPU would add its own second or two. The rules must also be there when
# looked at (or the result is 99999).
rules_back_ms() {
	poll 20 rules_as_wanted || { echo 99999; return; }
	python3 - "$T0" "$T_END" "$LAB_TMP"/*.log <<'PYEOF2'
import datetime, sys
t0, t_end = int(sys.argv[1]) / 1e6, int(sys.argv[2]) / 1e6
last = None
for log in sys.argv[3:]:
    for line in open(log, errors="replace"):
        if "rules put back after the firewall was rebuilt" not in line:
            continue
        ms = datetime.datetime.fromisoformat(line.split()[0].replace("Z", "+00:00")).timestamp() * 1000
        if ms >= t0:
            last = ms if last is None else max(last, ms)
print(99999 if last is None else max(0, round(last - t_end)))
PYEOF2
}
# The timers rest while rebuilds are timed (one of theirs in the middle would be timed too).
systemctl stop unifi-provision@gw1.timer unifi-provision@gw2.timer
provisioning() { systemctl show -p ActiveState --value unifi-provision@gw1.service unifi-provision@gw2.service | grep -q activating; }
quiet_and_back() { ! provisioning && rules_as_wanted; }
wait_for 30 "c: the timers rest; their last rebuild (if any) is over and its rules are back" quiet_and_back
sleep 1
put_before=$(grep -c 'IPv4 rules put back after the firewall was rebuilt' "$LAB_TMP/ut1.log" || true)
bg_in lan2 "$LAB_TMP/iperf-s.out" iperf3 -s -B 192.168.2.10
wait_for 10 "iperf3 server on lan2" bash -c "ip netns exec $(ns_name lan2) ss -ltn | grep -q '192.168.2.10:5201'"
# Traffic for the three rebuilds, which come 4, 13 and 22 s into it: a ping, an iperf3 run
# of 36 s and a search every 0.5 s (stopped once the last rebuild's 5 s are over).
bg_in lan1 "$LAB_TMP/ping.out" ping -D -i 0.2 -W 1 192.168.2.10
PING=$LAB_BG_PID
bg_in lan1 "$LAB_TMP/iperf.json" iperf3 -c 192.168.2.10 -t 36 -b 1M -J
IPERF=$LAB_BG_PID
bg_in lan2 "$LAB_TMP/searches.out" python3 -u "$LAB_TMP/searchloop.py" loop 90
SEARCHES=$LAB_BG_PID
traffic0=$(date +%s%N)
times=()
ends=()
for i in 1 2 3; do
	wait_ms=$((4000 + (i - 1) * 9000 - $(since "$traffic0")))
	[ "$wait_ms" -le 0 ] || sleep "$(awk -v m="$wait_ms" 'BEGIN { printf "%.3f", m / 1000 }')"
	rebuild
	ends+=("$T_END")
	ms=$(rules_back_ms)
	times+=("$ms")
	check "c$i: rebuild $i under traffic: rules back on both gateways within 5 s (${ms} ms)" test "$ms" -le 5000
done
wait_for 60 "c: the iperf3 run through the tunnel ended" not kill -0 "$IPERF"
remaining=$((5000 - $(since "${ends[2]}")))
[ "$remaining" -le 0 ] || sleep "$(awk -v m="$remaining" 'BEGIN { printf "%.3f", m / 1000 }')"
bg_stop "$SEARCHES"
bg_stop "$PING"
# first_after FILE EPOCH_NS: ms from EPOCH_NS to the first epoch (s, first field, [] dropped) in FILE after it.
first_after() { awk -v t="$2" '{ x = $1; gsub(/[][]/, "", x); if (x + 0 >= t / 1e9) { printf "%d\n", (x - t / 1e9) * 1000; exit } }' "$1"; }
grep 'bytes from' "$LAB_TMP/ping.out" >"$LAB_TMP/ping-replies.out" || true
for i in 1 2 3; do
	e=${ends[$((i - 1))]}
	pms=$(first_after "$LAB_TMP/ping-replies.out" "$e")
	sms=$(first_after "$LAB_TMP/searches.out" "$e")
	check "c$i: ... the ping's replies back within 5 s of rebuild $i (${pms:-never} ms)" test "${pms:-99999}" -le 5000
	check "c$i: ... searches across the relay answered within 5 s of rebuild $i (${sms:-never} ms)" test "${sms:-99999}" -le 5000
done
iperf_report() {
	python3 - "$LAB_TMP/iperf.json" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
iv = [x["sum"]["bytes"] for x in r["intervals"]]
run = worst = 0
for b in iv:
    run = run + 1 if b == 0 else 0
    worst = max(worst, run)
mbps = r["end"]["sum_received"]["bits_per_second"] / 1e6
print(f"# iperf3: {len(iv)} s, {mbps:.2f} Mbit/s received, longest stall {worst} s, zero-byte seconds {iv.count(0)}")
sys.exit(0 if len(iv) >= 30 and worst <= 5 and mbps > 0.3 else 1)
PYEOF
}
check "c: iperf3 ran through all three (no stall over 5 s)" iperf_report
iperf_report || true
ping_gaps() {
	awk -F'[][]' '/bytes from/ { t = $2 + 0; if (last && t - last > gap) gap = t - last; last = t; n++ }
		END { printf "# background ping: %d replies, longest gap %.1f s\n", n, gap; exit !(n > 50 && gap <= 5) }' "$LAB_TMP/ping.out"
}
check "c: the background ping never stopped for over 5 s" ping_gaps
ping_gaps || true
# Traffic both ways between the same ports keeps a stateful firewall open by itself, so
# three more with the tunnel quiet: each flow started by one side right after the
# rebuild and a flush: lan2 -> lan1 needs gw1's rule, lan1 -> lan2 gw2's; a search from
# lan2 gw1's relay rule.
for i in 4 5 6; do
	rebuild
	# shellcheck disable=SC2016 # expanded by that sh, when the ping ends
	bg_in lan2 "$LAB_TMP/newflow.out" sh -c 'ping -c 1 -i 0.2 -w 10 192.168.1.10; echo "END $(date +%s%N)"'
	NEWFLOW=$LAB_BG_PID
	ms=$(rules_back_ms)
	times+=("$ms")
	check "c$i: rebuild $i, quiet: rules back on both within 5 s (${ms} ms)" test "$ms" -le 5000
	wait "$NEWFLOW" 2>/dev/null || true
	ms=$(awk -v t="$T_END" '$1 == "END" { printf "%d", ($2 - t) / 1e6 }' "$LAB_TMP/newflow.out")
	check "c$i: ... a new flow lan2 -> lan1 (gw1's rule), started at the rebuild, answered within 5 s (${ms} ms)" \
		sh -c "grep -q ' 1 received' '$LAB_TMP/newflow.out' && [ ${ms:-99999} -le 5000 ]"
	flush_ct
	wait_for 10 "c$i: ... a new flow lan1 -> lan2 (gw2's rule)" nsx lan1 ping -c 1 -i 0.2 -w 10 192.168.2.10
	flush_ct
	sms=$(nsx lan2 python3 "$LAB_TMP/searchloop.py" 10 || echo never)
	check "c$i: ... a new search from lan2 answered across the relay (${sms} ms from its start)" test "$sms" != never
done
echo "# rules back after each rebuild (ms): ${times[*]}"
wait_for 5 "c: rule counts unchanged after six rebuilds: one jump and one rule each, no duplicates" rules_as_wanted
put_after=$(grep -c 'IPv4 rules put back after the firewall was rebuilt' "$LAB_TMP/ut1.log" || true)
check "c: gw1's udp-tunnel logged each put-back ($((put_after - put_before)) IPv4 lines for 6 rebuilds)" \
	test $((put_after - put_before)) -eq 6
check "c: status counts the put-backs" sh -c "ip netns exec $(ns_name gw1) '$UT' status --control-socket '$LAB_TMP/ut1.sock' | grep -Eq 'put back [0-9]+ times'"
systemctl start unifi-provision@gw1.timer unifi-provision@gw2.timer
echo "# the provisioner rebuilt gw1 $(cat "$LAB_TMP/gw1.provisions") times, gw2 $(cat "$LAB_TMP/gw2.provisions") times so far (on demand and at random)"

# ------------------------------------------------------------------ d. WAN churn
echo "# d. gw1's WAN address changes; then its WAN is re-created as ppp0 (at $(($(date +%s) - t0)) s)"
nsx gw1 ip addr del 192.0.2.1/24 dev eth8
nsx gw1 ip addr add 192.0.2.11/24 dev eth8
# The other side learns the new address (as an owner, or a DNS name, would tell it).
[ "$WG_KIND" != wireguard ] || nsx gw2 wg set wgsts1000 peer "$(cat "$LAB_TMP/wg1.pub")" endpoint 192.0.2.11:20000
nsx gw2 "$UT" ctl -s 127.0.0.1 -o del -n site1 >/dev/null
nsx gw2 "$UT" ctl -s 127.0.0.1 -o add -n site1 -t 10.0.9.2 -r 192.0.2.11 --route 192.168.1.0/24 >/dev/null
provision gw1 # a WAN address change re-provisions
wait_for 5 "d1: gw2 opened its data port to gw1's new address" has_rule gw2 UDM_PROXIES_UDP_TUNNEL '-s 192.0.2.11/32'
check "d1: ... and closed it to the old one" not has_rule gw2 UDM_PROXIES_UDP_TUNNEL '-s 192.0.2.1/32'
wait_for 5 "d1: rules as wanted on both" rules_as_wanted
wait_for 10 "d1: new flows cross the tunnel both ways" pings_both
wait_for 10 "d1: a new search across the relay finds the device" search_finds

nsx gw1 ip link del eth8
check "d2: gw1's WAN is gone: nothing crosses" not ping_12
wan_add gw1 ppp0 192.0.2.11
unifi_fw_up gw1 pre-zone ppp0 wgsts1000 br0 br20 # UniFi provisions for the new WAN
wait_for 5 "d2: WAN re-created as ppp0 and re-provisioned: rules as wanted" rules_as_wanted
wait_for 10 "d2: new flows cross the tunnel both ways" pings_both
nsx gw1 ip link set ppp0 down
sleep 2
nsx gw1 ip link set ppp0 up
provision gw1
wait_for 10 "d3: ppp0 down and up (and a provisioning): new flows cross both ways" pings_both
wait_for 10 "d3: ... and the relay over wgsts1000" search_finds
wait_for 5 "d3: rules as wanted on both" rules_as_wanted
check "d3: the daemons ran through it all (one each)" sh -c "kill -0 ${PIDS[ut1]} && kill -0 ${PIDS[ut2]} && kill -0 ${PIDS[gw1]} && kill -0 ${PIDS[gw2]}"

# ------------------------------------------------------------------ e. stop
echo "# e. on stop, UniFi's template byte for byte (at $(($(date +%s) - t0)) s)"
stop_provisioner
all_down
for gw in gw1 gw2; do
	for fam in 4 6; do
		check "e: $gw IPv$fam: iptables-legacy-save after stop equals UniFi's template, byte for byte" table_is_template "$gw" "$fam"
	done
done
ours_left() { local gw; for gw in gw1 gw2; do nsx "$gw" iptables-legacy-save; nsx "$gw" ip6tables-legacy-save; done | grep UDM_PROXIES; }
check "e: no chain or jump of ours left" not ours_left
check "e: each daemon said it removed its chain" sh -c "grep -q 'chain UDM_PROXIES_UDP_TUNNEL and its jump removed' '$LAB_TMP/ut1.log' && grep -q 'chain UDM_PROXIES_SSDP_PROXY and its jump removed' '$LAB_TMP/gw2.log'"
echo "# UniFi-shaped lab: $(($(date +%s) - t0)) s"
finish
