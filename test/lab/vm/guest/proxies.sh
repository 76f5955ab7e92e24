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
#   udp-tunnel  ping and a short iperf3 between two hosts, keyless and keyed (tun);
#               between homes: through a NAT, and a WAN address that moves (roam)
#
# proxies.sh kernel-4.4: the same jobs once more as on the oldest kernel an owner can
# install on (the UDR's 4.4.198; issue 20): each proxy runs as a transient systemd
# service whose SystemCallFilter= makes every system call that kernels after 4.4 added
# answer ENOSYS (the list read from this guest's asm-generic/unistd.h, the generic
# table arm64 uses: v4.4 ended at __NR_mlock2 284, so every number from 285 on is
# newer), with UDP GSO, the tun offloads and batched I/O refused as well (the daemons'
# UDM_PROXIES_TEST_KERNEL_REFUSES stand-ins); each must do its job and say once in its
# log what it does without.
set -euo pipefail
MODE=${1:-}
cd /mnt/repo
. test/e2e/lib.sh
need_root
need_cmd ip python3 dnsmasq dig iperf3 radvd ndppd
REL=${UDMVM_RELEASE:-/mnt/release}
for m in veth bridge tun; do modprobe "$m"; done

# proxy_in NS LOGFILE EXE ARGS...: a proxy in NS, as bg_in starts it; in kernel-4.4 mode
# through systemd-run with the newer system calls refused (K44_REFUSES: the offloads).
proxy_in() { bg_in "$@"; }
K44_N=0
K44_REFUSES=
if [ "$MODE" = kernel-4.4 ]; then
	HDR=/usr/include/asm-generic/unistd.h
	require "the kernel's generic syscall table is here ($HDR, linux-libc-dev)" test -r "$HDR"
	require "... and 4.4's last call is where v4.4 had it: __NR_mlock2 284" grep -qx '#define __NR_mlock2 284' "$HDR"
	# Every __NR_ name numbered 285 or above, less the block that only 32-bit and
	# compat builds have (the time64 calls: arm64 has never had those numbers).
	K44_LIST=$(awk '
		/^#if/ { d++; skip[d] = ($0 ~ /__BITS_PER_LONG == 32/); next }
		/^#endif/ { d--; next }
		{ for (i = 1; i <= d; i++) if (skip[i]) next }
		$1 == "#define" && $2 ~ /^__NR_/ && $2 != "__NR_syscalls" && $3 ~ /^[0-9]+$/ && $3 + 0 >= 285 { print substr($2, 6) }' "$HDR" | sort -u | paste -sd' ')
	require "the list of calls added after 4.4 is not empty" test -n "$K44_LIST"
	echo "# refused with ENOSYS ($(wc -w <<<"$K44_LIST") calls, numbers 285-$(awk '$1 == "#define" && $2 == "__NR_syscalls" { print $3 - 1 }' "$HDR") of $HDR): $K44_LIST"
	proxy_in() {
		local ns=$1 log=$2
		shift 2
		K44_N=$((K44_N + 1))
		# Through ip netns exec, under the filter too: it also mounts the namespace's own
		# /sys, which the daemons read (NetworkNamespacePath= would leave the host's).
		setsid systemd-run --quiet --collect --pipe --wait --unit="udmvm-k44-$K44_N" \
			-p SystemCallFilter="~$K44_LIST" -p SystemCallErrorNumber=ENOSYS \
			-E UDM_PROXIES_TEST_KERNEL_REFUSES="$K44_REFUSES" \
			ip netns exec "$(ns_name "$ns")" "$@" >"$log" 2>&1 </dev/null &
		LAB_BG_PID=$!
		bg_track "$LAB_BG_PID"
		wait_for 10 "$(basename "$1") runs under the filter (udmvm-k44-$K44_N: Seccomp 2, newer calls answer ENOSYS${K44_REFUSES:+, refused: $K44_REFUSES})" k44_filtered "udmvm-k44-$K44_N"
	}
	k44_filtered() {
		local pid
		pid=$(systemctl show -p MainPID --value "$1.service")
		[ "${pid:-0}" != 0 ] && grep -qx $'Seccomp:\t2' "/proc/$pid/status"
	}
	# shellcheck disable=SC2317 # run by at_exit
	k44_stop() { systemctl stop 'udmvm-k44-*.service' 2>/dev/null || true; }
	at_exit k44_stop
	# What the journal said about the filter (a name systemd did not know is skipped).
	k44_journal() { journalctl -b -o cat -u 'udmvm-k44-*' 2>/dev/null | grep -i 'system call\|syscall' | sort -u | sed 's/^/# systemd: /' | head -n 20 || true; }
fi
# said_once LOG TEXT: the daemon's log says TEXT exactly once.
said_once() { [ "$(grep -cF -- "$2" "$1")" = 1 ] || { grep -F -- "$2" "$1"; return 1; }; }

# ------------------------------------------------------------------ mld-proxy
echo "# mld-proxy"
MLD_WITH_OTHER=0
. test/lab/mld-proxy.sh
mld_topology_up
MP=$REL/mld-proxy-linux-arm64
proxy_in rtr "$LAB_TMP/mld.out" "$MP" --check-interval 1 --log "$LAB_TMP/mld.log" \
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
proxy_in arouter "$LAB_TMP/a.out" "$SP" --config "$LAB_TMP/a.json"
proxy_in brouter "$LAB_TMP/b.out" "$SP" --config "$LAB_TMP/b.json"
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
K44_REFUSES=batching
proxy_in proxy "$LAB_TMP/udp.out" "$UP" --listen 10.0.1.1:5302 --upstream 10.0.2.254:53 \
	--reply-alias 10.0.2.2:53 --control-socket "$LAB_TMP/udp.sock" --log "$LAB_TMP/udp.log"
wait_for 30 "udp-proxy answers on its status socket" nsx proxy "$UP" status --control-socket "$LAB_TMP/udp.sock"
dig_ok() { [ "$(nsx client dig +short +tries=1 +time=2 -p 5302 @10.0.1.1 svc.test A)" = 192.0.2.53 ]; }
wait_for 20 "dig through udp-proxy gets dnsmasq's answer, sent from the alias 10.0.2.2" dig_ok
if [ "$MODE" = kernel-4.4 ]; then
	check "udp-proxy said once that it moves one datagram per call" said_once "$LAB_TMP/udp.log" "the kernel refused recvmmsg/sendmmsg"
	nsx proxy "$UP" status --control-socket "$LAB_TMP/udp.sock" | grep -i 'batch\|datagram' | sed 's/^/# udp-proxy status: /' || true
fi

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
		proxy_in "$h" "$LAB_TMP/$h-$dp.out" "$UT" serve -dp "$dp" -cp $((dp + 1)) "${key[@]}" \
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
# roam: udp-tunnel between homes (issue 21), its NAT and address-change scenario once on
# arm64 (test/e2e/udp-tunnel-roam.test.sh has them all on x86, with the goals timed): c
# behind a home router's masquerade, no port forwarded, and public b reach each other,
# held open by the keepalive, also after the NAT forgets its mapping; a's WAN address
# changes while iperf3 runs through its keyed tunnel, and b follows a's datagrams.
roam() {
	local n h
	echo "# udp-tunnel between homes: NAT, an address that moves"
	. test/lab/udp-tunnel-roam.sh
	roam_lab_up
	for n in a b c; do
		proxy_in "$n" "$LAB_TMP/roam-$n.out" "$UT" serve -dp 5300 -cp 5301 --key-file "$LAB_TMP/key" --keepalive 1 \
			--control-socket "$LAB_TMP/roam-$n.sock" --log "$LAB_TMP/roam-$n.log" --firewall off
	done
	for n in a b c; do
		wait_for 30 "udp-tunnel on $n answers" nsx "$n" "$UT" status --control-socket "$LAB_TMP/roam-$n.sock"
	done
	rctl() { nsx "$1" "$UT" ctl -s 127.0.0.1 -p 5301 --key-file "$LAB_TMP/key" "${@:2}"; }
	# rfield NS TUNNEL KEY: one field of a tunnel in `status --json`
	rfield() {
		nsx "$1" "$UT" status --control-socket "$LAB_TMP/roam-$1.sock" --json |
			python3 -c 'import json,sys; print([t for t in json.load(sys.stdin)["tunnels"] if t["name"]==sys.argv[1]][0][sys.argv[2]])' "$2" "$3"
	}
	check "a: add a keyed tunnel to b" rctl a -o add -n tb -t 10.20.0.1 -r 192.0.2.2
	check "b: add one to a" rctl b -o add -n ta -t 10.20.0.2 -r 198.51.100.10
	check "c, behind NAT with no port forwarded: add one to b" rctl c -o add -n tb -t 10.20.1.1 -r 192.0.2.2
	check "b: add one to c at its NAT's address" rctl b -o add -n tc -t 10.20.1.2 -r 100.64.0.2
	wait_for 15 "a -> b through the keyed tunnel" nsx a ping -c 1 -W 2 10.20.0.2
	wait_for 15 "NAT: c -> b" nsx c ping -c 1 -W 2 10.20.1.2
	wait_for 15 "NAT: b -> c, no port forwarded" nsx b ping -c 1 -W 2 10.20.1.1
	# rfield_like NS TUNNEL KEY PATTERN: that field matches the glob PATTERN
	rfield_like() {
		local v
		v=$(rfield "$1" "$2" "$3") || return 1
		# shellcheck disable=SC2053 # a glob on purpose
		[[ $v == $4 ]] || { echo "$3: $v"; return 1; }
	}
	check "b: c's endpoint is its NAT's address, at the port of c's mapping" rfield_like b tc endpoint '100.64.0.2:*'
	bg_in b "$LAB_TMP/roam-ping.out" ping -i 0.2 10.20.1.1
	local ping=$LAB_BG_PID
	sleep 1
	nsx n conntrack -F >/dev/null 2>&1
	h=$(roam_heal b 10.20.1.1)
	bg_stop "$ping"
	# The CPU is emulated: the goal (keepalive + 1 s) is judged on x86; here, that it heals.
	echo "# NAT mapping flushed while b pings c: heals in $h s"
	check "NAT: the mapping flushed while pinging; heals ($h s, within 5 s)" awk -v h="$h" 'BEGIN { exit !(h <= 5) }'
	bg_in b "$LAB_TMP/roam-iperf-s.out" iperf3 -s -1 -B 10.20.0.2
	wait_for 10 "iperf3 server on b, in the tunnel" bash -c "ip netns exec $(ns_name b) ss -ltn | grep -q '10.20.0.2:5201'"
	bg_in a "$LAB_TMP/roam-iperf-c.out" iperf3 -c 10.20.0.2 -t 8 -b 5M
	local iperf=$LAB_BG_PID
	sleep 2
	roam_move_wan 11
	h=$(roam_heal b 10.20.0.1)
	echo "# a's WAN address changed under iperf3: b -> a heals in $h s"
	check "a's WAN address changes under iperf3; b -> a heals ($h s, within 5 s)" awk -v h="$h" 'BEGIN { exit !(h <= 5) }'
	check "b follows a to its new address (198.51.100.11), learned from its datagrams" rfield_like b ta endpoint 198.51.100.11:5300
	check "... and counts the move" rfield_like b ta moves '[1-9]*'
	wait_for 15 "iperf3 ran through the change" grep -q ' sender' "$LAB_TMP/roam-iperf-c.out"
	bg_stop "$iperf"
}

if [ "$MODE" = kernel-4.4 ]; then
	# The first pair with tun offloads on, so UDP GSO is asked for (and refused); the
	# second with the tun offloads and batched I/O refused.
	K44_REFUSES=udp-gso
	pair 0 5000 10.0.1
	check "udp-tunnel said once that it sends without UDP GSO" said_once "$LAB_TMP/h1-5000.log" "the kernel refused UDP GSO"
	K44_REFUSES=tun-offload,batching
	pair 1 5100 10.0.2
	check "udp-tunnel said once that its tun devices move plain packets" said_once "$LAB_TMP/h1-5100.log" "the kernel refused TUNSETOFFLOAD"
	check "... and once that it moves one datagram per call" said_once "$LAB_TMP/h1-5100.log" "the kernel refused recvmmsg/sendmmsg"
	# Which of the refused calls a daemon really asks for (Node and its libraries fall back
	# on ENOSYS): udp-tunnel for 10 s under strace, inside the filter.
	timeout -s INT 10 systemd-run --quiet --collect --pipe --wait --unit=udmvm-k44-strace \
		-p SystemCallFilter="~$K44_LIST" -p SystemCallErrorNumber=ENOSYS \
		strace -f -qq -o "$LAB_TMP/strace.txt" -e trace="${K44_LIST// /,}" \
		"$UT" serve -dp 5200 -cp 5201 --control-socket "$LAB_TMP/st.sock" --log "$LAB_TMP/st.log" >/dev/null 2>&1 || true
	systemctl stop udmvm-k44-strace.service 2>/dev/null || true
	echo "# udp-tunnel's first 10 s asked for: $(awk '/ENOSYS/ { sub(/^[0-9]+ +/, ""); sub(/\(.*/, ""); n[$0]++ } END { for (c in n) printf "%s x%d, ", c, n[c] }' "$LAB_TMP/strace.txt" 2>/dev/null)(each answered ENOSYS)"
	# What each daemon said about its data path, and any warning (to read, not judged here).
	for f in mld.log a.log b.log udp.log h1-5000.log h1-5100.log; do
		grep -iE 'refus|ENOSYS|without|warn|error' "$LAB_TMP/$f" | sed "s|^|# $f: |" | head -n 8 || true
	done
	k44_journal
else
	pair 0 5000 10.0.1
	pair 1 5100 10.0.2
	roam
fi
finish
