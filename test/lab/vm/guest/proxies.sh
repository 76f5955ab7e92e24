#!/usr/bin/env bash
# shellcheck disable=SC2317 # helpers are invoked through check/wait_for
# test/lab/vm/guest/proxies.sh - inside the arm64 guest: each proxy's arm64 executable
# does its real job in namespaces, against real peers installed in the image, with
# the labs the x86 end-to-end tests use. Short scenarios: the CPU is emulated.
#
#   mld-proxy   a LAN host's DAD is learned and its solicited-node group joined on
#               the WAN; the ISP gateway's snooping bridge lists it on the router's
#               port (AF_PACKET capture with PACKET_ADD_MEMBERSHIP)
#   ssdp-proxy  a search on B's LAN is relayed to site A, multicast there
#               (IP_MULTICAST_IF) and the device's reply reaches the client's port
#   udp-proxy   dig through the proxy gets dnsmasq's answer from the VIP's alias
#   udp-tunnel  ping and a short iperf3 between two hosts, keyless and keyed (tun)
set -euo pipefail
cd /mnt/repo
. test/e2e/lib.sh
need_root
need_cmd ip python3 dnsmasq dig iperf3 radvd ndppd
REL=${UDMVM_RELEASE:-/mnt/release}
for m in veth bridge tun; do modprobe "$m"; done

# ------------------------------------------------------------------ mld-proxy
echo "# mld-proxy"
MLD_WITH_OTHER=0
. test/lab/mld-proxy.sh
mld_topology_up
MP=$REL/mld-proxy-linux-arm64
bg_in rtr "$LAB_TMP/mld.out" "$MP" --check-interval 1 --log "$LAB_TMP/mld.log" \
	--control-socket "$LAB_TMP/mld.sock" --pid-file "$LAB_TMP/mld.pid" "$RTR_WAN" "$RTR_LAN"
wait_for 30 "mld-proxy captures NDP on $RTR_LAN" grep -q "capturing NDP on $RTR_LAN" "$LAB_TMP/mld.log"
H2_ADDR=2001:db8:1::2222:2
H2_SNMA=$(mld_snma "$H2_ADDR")
mld_lan_host_add host2 ::2222:2 02:00:00:00:01:02
wait_for 20 "host2 autoconfigured $H2_ADDR (its DAD went out)" \
	sh -c "ip -n $(ns_name host2) -6 addr show dev eth0 | grep -F 'inet6 $H2_ADDR/' | grep -vq tentative"
wait_for 15 "mld-proxy learned $H2_ADDR and joined $H2_SNMA on $RTR_WAN" \
	grep -qF "Joined: $H2_SNMA on $RTR_WAN (for $H2_ADDR seen on $RTR_LAN)" "$LAB_TMP/mld.log"
wait_for 10 "the ISP gateway's snooping bridge lists $H2_SNMA on $GW_RTR_PORT" mld_mdb_has "$H2_SNMA" "$GW_RTR_PORT"
check "mld-proxy status answers" nsx rtr "$MP" status --control-socket "$LAB_TMP/mld.sock"

# ------------------------------------------------------------------ ssdp-proxy
echo "# ssdp-proxy"
. test/lab/ssdp-proxy.sh
ssdp_topology_up a b
lan_up a 1
lan_up b 2
ssdp_helpers_write
SP=$REL/ssdp-proxy-linux-arm64
# A device on A's LAN that answers every M-SEARCH (minidlna is not in the image).
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
        print("search from", frm, flush=True)
        s.sendto(b"HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\nUSN: uuid:vm::upnp:rootdevice\r\n"
                 b"LOCATION: http://192.168.1.10:8200/rootDesc.xml\r\nCACHE-CONTROL: max-age=1800\r\nEXT:\r\n\r\n", frm)
EOF
bg_in alan "$LAB_TMP/device.out" python3 -u "$LAB_TMP/device.py"
conf a '["lan0"]' '["10.0.0.2"]'
conf b '["lan0"]' '["10.0.0.1"]'
bg_in arouter "$LAB_TMP/a.out" "$SP" --config "$LAB_TMP/a.json"
bg_in brouter "$LAB_TMP/b.out" "$SP" --config "$LAB_TMP/b.json"
wait_for 30 "both ssdp-proxies joined the SSDP group on their LAN" \
	sh -c "grep -q 'joined 239' '$LAB_TMP/a.log' && grep -q 'joined 239' '$LAB_TMP/b.log'"
wait_for 5 "the device on A's LAN listens" grep -q listening "$LAB_TMP/device.out"
# One search from B's LAN; the reply must come back to the port it was sent from.
found() {
	local out
	out=$(nsx blan python3 "$PY" search upnp:rootdevice 1 4)
	echo "$out"
	python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if any(x["location"]=="http://192.168.1.10:8200/rootDesc.xml" for x in r) else 1)' "$out"
}
wait_for 30 "a search on B's LAN gets the reply of the device on A's LAN, on the client's port" found
check "A's proxy multicast the search on its LAN (IP_MULTICAST_IF)" grep -q "search from ('192.168.1.1'" "$LAB_TMP/device.out"

# ------------------------------------------------------------------ udp-proxy
echo "# udp-proxy"
. test/lab/udp-proxy.sh
udp_topology_up
UP=$REL/udp-proxy-linux-arm64
bg_in proxy "$LAB_TMP/udp.out" "$UP" --listen 10.0.1.1:5302 --upstream 10.0.2.254:53 \
	--reply-alias 10.0.2.2:53 --control-socket "$LAB_TMP/udp.sock" --log "$LAB_TMP/udp.log"
wait_for 30 "udp-proxy answers on its status socket" nsx proxy "$UP" status --control-socket "$LAB_TMP/udp.sock"
dig_ok() { [ "$(nsx client dig +short +tries=1 +time=2 -p 5302 @10.0.1.1 svc.test A)" = 192.0.2.53 ]; }
wait_for 20 "dig through udp-proxy gets dnsmasq's answer, sent from the alias 10.0.2.2" dig_ok

# ------------------------------------------------------------------ udp-tunnel
echo "# udp-tunnel"
. test/lab/udp-tunnel.sh
tunnel_underlay_up
tunnel_host_add 1
tunnel_host_add 2
UT=$REL/udp-tunnel-linux-arm64
head -c 32 /dev/urandom | base64 >"$LAB_TMP/key"
# pair KEYED DATAPORT NET: a daemon on h1 and h2 (keyed or not), one tunnel between them.
pair() {
	local keyed=$1 dp=$2 net=$3 h key=()
	[ "$keyed" = 0 ] || key=(--key-file "$LAB_TMP/key")
	for h in h1 h2; do
		bg_in "$h" "$LAB_TMP/$h-$dp.out" "$UT" serve -dp "$dp" -cp $((dp + 1)) "${key[@]}" \
			--control-socket "$LAB_TMP/$h-$dp.sock" --log "$LAB_TMP/$h-$dp.log"
	done
	for h in h1 h2; do
		wait_for 30 "udp-tunnel on $h (data port $dp) answers" nsx "$h" "$UT" status --control-socket "$LAB_TMP/$h-$dp.sock"
	done
	check "h1: add a tunnel to h2" nsx h1 "$UT" ctl -s 127.0.0.1 -p $((dp + 1)) "${key[@]}" \
		-o add -n "t$dp" -t "$net.1" -r 192.0.2.2
	check "h2: add a tunnel to h1" nsx h2 "$UT" ctl -s 127.0.0.1 -p $((dp + 1)) "${key[@]}" \
		-o add -n "t$dp" -t "$net.2" -r 192.0.2.1
	wait_for 15 "ping h1 -> h2 through the tunnel (key: $keyed)" nsx h1 ping -c 1 -W 2 "$net.2"
	check "3 pings of 1400 bytes, none lost" nsx h1 ping -c 3 -i 0.3 -W 3 -s 1400 "$net.2"
	bg_in h2 "$LAB_TMP/iperf-$dp.txt" iperf3 -s -1 -B "$net.2"
	wait_for 10 "iperf3 server listening on $net.2" \
		bash -c "ip netns exec $(ns_name h2) ss -ltn | grep -q '$net.2:5201'"
	check "iperf3 TCP h1 -> h2 through the tunnel for 1 s (key: $keyed)" nsx h1 iperf3 -c "$net.2" -t 1 -f m
}
pair 0 5000 10.0.1
pair 1 5100 10.0.2
finish
