#!/usr/bin/env bash
# shellcheck disable=SC2317 # helpers are invoked through check/wait_for
# The arm64 executables run, under qemu-user: they start, load koffi from
# their embedded asset, parse their command line, and mld-proxy does its job
# in a namespace (learns a LAN host, joins its group upstream) and answers
# `status`; udp-proxy relays a datagram; ssdp-proxy relays a search between
# an arm64 site and an x64 site (the relay frames cross architectures).
# qemu-user 7.2 refuses IP_MULTICAST_IF (ENOPROTOOPT), so the arm64 proxy is
# the one at the searching site, which receives multicast but sends unicast.
# qemu-user 7.2 refuses PACKET_ADD_MEMBERSHIP (ENOPROTOOPT): that is
# the emulator, and the daemon carries on without allmulti.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/e2e/lib.sh
need_root
need_cmd qemu-aarch64-static ip ping python3 minidlnad curl
QEMU=(qemu-aarch64-static -L /usr/aarch64-linux-gnu)
VERSION=$(node -p 'require("./package.json").version')

for f in dist/*-linux-arm64; do
	p=$(basename "$f" -linux-arm64)
	if grep -q 'src/lib/native.ts' "dist/$p.cjs"; then
		check "$p (arm64) --version names the version and loads koffi" bash -c "${QEMU[*]} $f --version | grep -Eq '^$p $VERSION \(commit ([0-9a-f]{12}(-dirty)?|unknown), node 24\.[0-9.]+, koffi [0-9.]+(, --[a-z-]+(=[0-9]+)?)*\)$'"
	else
		check "$p (arm64) --version names the version" bash -c "${QEMU[*]} $f --version | grep -Eq '^$p $VERSION \(commit ([0-9a-f]{12}(-dirty)?|unknown), node 24\.[0-9.]+(, --[a-z-]+(=[0-9]+)?)*\)$'"
	fi
	check "$p (arm64) --help prints usage" bash -c "${QEMU[*]} $f --help | grep -q '^Usage: $p'"
	out=$("${QEMU[@]}" "$f" --no-such-flag 2>&1) && rc=0 || rc=$?
	if [ "$rc" = 2 ] && [[ "$out" == "ERROR: unknown option --no-such-flag"* ]]; then ok "$p (arm64) refuses a bad flag with exit 2"; else fail "$p (arm64) refuses a bad flag with exit 2" "exit $rc: $out"; fi
done

# mld-proxy, arm64, for real: rtr has eth9 (WAN) and br0 (LAN) with a host.
ns_add rtr
ns_add host
ns_add wan
ip link add eth9 netns "$(ns_name rtr)" type veth peer name w0 netns "$(ns_name wan)"
ip link add h0 netns "$(ns_name host)" type veth peer name p0 netns "$(ns_name rtr)"
nsx wan ip link set w0 up
nsx rtr ip link add br0 type bridge
nsx rtr ip link set p0 master br0
for l in eth9 br0 p0; do nsx rtr ip link set "$l" up; done
nsx rtr ip addr add 2001:db8:7::1/64 dev eth9 nodad
nsx rtr ip addr add 2001:db8:7::2/128 dev br0 nodad
nsx rtr ip -6 route add 2001:db8:7::/64 dev br0 metric 50
sock="$LAB_TMP/mld.sock"
bg_in rtr "$LAB_TMP/mld.log" "${QEMU[@]}" dist/mld-proxy-linux-arm64 --control-socket "$sock" --check-interval 1 eth9 br0
MLD=$LAB_BG_PID
require_wait 20 "arm64 mld-proxy starts and captures on br0" grep -q 'capturing NDP on br0' "$LAB_TMP/mld.log"
nsx host ip link set h0 up
nsx host ip addr add 2001:db8:7::abcd:1/64 dev h0 nodad
nsx host ip -6 route add default dev h0
# The host resolves the router: its NS carries its own address as source.
nsx host ping -6 -c 2 -W 1 2001:db8:7::2 >/dev/null 2>&1 || true
wait_for 20 "arm64 mld-proxy joins ff02::1:ffcd:1 on eth9" bash -c "ip netns exec $(ns_name rtr) ip -6 maddr show dev eth9 | grep -q ff02::1:ffcd:1"
check "arm64 status client reads the arm64 daemon's table" bash -c "ip netns exec $(ns_name rtr) ${QEMU[*]} dist/mld-proxy-linux-arm64 status --control-socket $sock | grep -E '^2001:db8:7::abcd:1 +ff02::1:ffcd:1 +br0 .* yes'"
check "x64 status client reads the arm64 daemon's table (JSON)" bash -c "dist/mld-proxy-linux-x64 status --json --control-socket $sock | grep -q '\"address\": \"2001:db8:7::abcd:1\"'"
check "the router's own br0 address is not learned" bash -c "! dist/mld-proxy-linux-x64 status --json --control-socket $sock | grep -q '\"address\": \"2001:db8:7::2\"'"
bg_stop "$MLD"
check "arm64 mld-proxy stops cleanly on SIGTERM" grep -q 'stopped' "$LAB_TMP/mld.log"

# udp-proxy, arm64, for real: a datagram relayed to a UDP echo service and back.
if [ -x dist/udp-proxy-linux-arm64 ]; then
	ns_add udp
	bg_in udp "$LAB_TMP/echo.log" python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 5301))
while True:
    d, a = s.recvfrom(2048); s.sendto(d.upper(), a)'
	bg_in udp "$LAB_TMP/udp.log" "${QEMU[@]}" dist/udp-proxy-linux-arm64 --control-socket "$LAB_TMP/udp.sock" --listen 127.0.0.1:5300 --upstream 127.0.0.1:5301
	require_wait 20 "arm64 udp-proxy opens its control socket" test -S "$LAB_TMP/udp.sock"
	wait_for 10 "arm64 udp-proxy relays a datagram and its reply" bash -c "ip netns exec $(ns_name udp) python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1)
s.sendto(b\"hello arm64\", (\"127.0.0.1\", 5300))
assert s.recvfrom(2048)[0] == b\"HELLO ARM64\"'"
	check "arm64 udp-proxy status counts the session" bash -c "${QEMU[*]} dist/udp-proxy-linux-arm64 status --json --control-socket $LAB_TMP/udp.sock | grep -Eq \"\\\"sessionsOpened\\\": [1-9]\""
	check "arm64 udp-proxy runs the batched data path (recvmmsg/sendmmsg, epoll): qemu-user allows it" \
		bash -c "${QEMU[*]} dist/udp-proxy-linux-arm64 status --control-socket $LAB_TMP/udp.sock | grep -q '^data path: batched'"
	check "arm64 udp-proxy relays a burst of 200 datagrams and their replies, in order" bash -c "ip netns exec $(ns_name udp) python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
for i in range(200): s.sendto(b\"m%d\" % i, (\"127.0.0.1\", 5300))
got = [s.recv(100) for i in range(200)]
assert got == [b\"M%d\" % i for i in range(200)], got[:5]'"
fi

# udp-tunnel, arm64 at one end (keyed), x64 at the other: the whole data path under
# qemu-user (recvmmsg/sendmmsg, tun IFF_VNET_HDR and TUNSETOFFLOAD, UDP GSO, OpenSSL EVP
# from the arm64 executable): qemu-user 7.2 refuses none of it.
if [ -x dist/udp-tunnel-linux-arm64 ]; then
	# shellcheck source=test/lab/udp-tunnel.sh
	. test/lab/udp-tunnel.sh
	tunnel_underlay_up
	tunnel_underlay_add t1 192.0.2.1
	tunnel_underlay_add t2 192.0.2.2
	head -c 32 /dev/urandom | base64 >"$LAB_TMP/tkey"
	bg_in t1 "$LAB_TMP/t1.out" "${QEMU[@]}" dist/udp-tunnel-linux-arm64 serve --key-file "$LAB_TMP/tkey" --control-socket "$LAB_TMP/t1.sock" --log "$LAB_TMP/t1.log"
	bg_in t2 "$LAB_TMP/t2.out" dist/udp-tunnel-linux-x64 serve --key-file "$LAB_TMP/tkey" --control-socket "$LAB_TMP/t2.sock"
	require_wait 30 "arm64 udp-tunnel answers on its status socket" nsx t1 dist/udp-tunnel-linux-x64 status --control-socket "$LAB_TMP/t1.sock"
	require_wait 10 "x64 udp-tunnel answers" nsx t2 dist/udp-tunnel-linux-x64 status --control-socket "$LAB_TMP/t2.sock"
	nsx t1 dist/udp-tunnel-linux-x64 ctl -s 127.0.0.1 -o add -n ut0 -t 10.8.0.1 -m 24 --mtu 1400 -r 192.0.2.2 >/dev/null
	nsx t2 dist/udp-tunnel-linux-x64 ctl -s 127.0.0.1 -o add -n ut0 -t 10.8.0.2 -m 24 --mtu 1400 -r 192.0.2.1 >/dev/null
	wait_for 10 "a ping crosses the keyed tunnel between arm64 and x64" nsx t1 ping -c 1 -W 2 10.8.0.2
	xfer() { # FROM TO-NS TO-ADDRESS: 2 MB over TCP through the tunnel, SHA-256 at both ends
		bg_in "$2" "$LAB_TMP/recv-$2.txt" python3 test/e2e/udp-tunnel-xfer.py tcp-recv "$3" 7000
		poll 5 grep -q ready "$LAB_TMP/recv-$2.txt" || return 1
		local sent
		sent=$(nsx "$1" python3 test/e2e/udp-tunnel-xfer.py tcp-send "$3" 7000 2)
		poll 30 bash -c "[ \"\$(sed -n 2p '$LAB_TMP/recv-$2.txt')\" = '$sent' ]"
	}
	check "2 MB over TCP from arm64 to x64 arrive intact" xfer t1 t2 10.8.0.2
	check "2 MB over TCP from x64 to arm64 arrive intact" xfer t2 t1 10.8.0.1
	arm_offloads_used() {
		nsx t1 dist/udp-tunnel-linux-x64 status --control-socket "$LAB_TMP/t1.sock" --json | python3 -c '
import json, sys
s = json.load(sys.stdin); o = s["offloads"]; p = s["dataPath"]
print(p, s["aead"], o)
ok = all(v["state"] == "on" for v in p.values()) and s["aead"].startswith("OpenSSL") and o["tsoSuperPackets"] > 0 and o["gsoSends"] > 0 and o["groSuperPackets"] > 0
sys.exit(0 if ok else 1)'
	}
	check "arm64 status: batched, UDP GSO, tun TSO and GRO, OpenSSL EVP; TSO, GSO and GRO counted" arm_offloads_used
fi

# ssdp-proxy, x64 at site A (minidlna's LAN), arm64 at site B: a search from B finds minidlna.
if [ -x dist/ssdp-proxy-linux-arm64 ]; then
	# shellcheck source=test/lab/ssdp-proxy.sh
	. test/lab/ssdp-proxy.sh
	ssdp_two_sites_up
	ssdp_proxy_start a dist/ssdp-proxy-linux-x64
	ssdp_proxy_start b "${QEMU[@]}" dist/ssdp-proxy-linux-arm64 --config "$LAB_TMP/b.json"
	require_wait 20 "arm64 ssdp-proxy joins the SSDP group on its LAN" grep -q 'joined 239.255.255.250 on lan0' "$LAB_TMP/b.log"
	wait_for 10 "a search on the arm64 site finds minidlna at the x64 site" bash -c "ip netns exec $(ns_name blan) python3 $PY search urn:schemas-upnp-org:device:MediaServer:1 1 2 | grep -q '192.168.1.10:8200/rootDesc.xml'"
	check "arm64 ssdp-proxy status counts the search it relayed and the reply it routed" bash -c "ip netns exec $(ns_name brouter) ${QEMU[*]} dist/ssdp-proxy-linux-arm64 status --json --control-socket $LAB_TMP/b.sock | python3 -c 'import json,sys; l=json.load(sys.stdin)[\"lans\"][0]; sys.exit(not (l[\"searches\"] >= 1 and l[\"repliesRouted\"] >= 1))'"
fi

finish
