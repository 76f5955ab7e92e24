#!/usr/bin/env bash
# shellcheck disable=SC2317 # helpers are invoked through check/wait_for
# test/e2e/udp-tunnel-roam.test.sh - udp-tunnel between homes: names, addresses that
# move, NAT, dual WAN and an IPv6-only underlay, with the real executable, dnsmasq,
# iptables masquerade and conntrack in namespaces around one router r:
#
#   a (two uplinks)  wan0 198.51.100.10 (.11, ...)  wan1 203.0.113.10   -- r --  b 192.0.2.2 (public)
#   c 10.9.0.2 -- n (masquerade, 100.64.0.2) -------------------------- r     mallory 198.18.0.66
#   p6 2001:db8:f1::2 ------ r ------ q6 2001:db8:f2::2   (no IPv4 address at all)
#   dnsmasq on r (192.0.2.1, 2001:db8:f2::1): site-a.test A, site-p.test AAAA
#
#   1. keyed a <-> b (b names a: site-a.test), keyless a <-> b beside it (ports 5010/1),
#      keyed c -> b from behind NAT with no port forwarded, keyed p6 <-> q6 over IPv6
#      only with IPv6 inside too: every tunnel carries ping both ways
#   2. a's WAN address changes 5 times while iperf3 runs a -> b through the keyed tunnel:
#      time until b reaches a again (median, max; goal: keepalive 1 s + 1 s)
#   3. the name moves in dnsmasq: the keyless tunnel (which cannot roam) heals once its
#      silence makes b ask again; SIGHUP makes b ask at once
#   4. dual WAN: a's default route moves to its second uplink
#   5. the NAT's mapping flushed (conntrack -F) while b pings c
#   6. older (captured, kept from b), replayed and forged datagrams from mallory move nothing
#   7. b restarts while a moves (DNS still has the old address): b finds a by the site it
#      kept in its state file
#
# Run as root: test/e2e/udp-tunnel-roam.test.sh   (needs dist/udp-tunnel-linux-x64; ~60 s)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=test/e2e/lib.sh
. "$here/lib.sh"
need_root
need_cmd ip python3 iperf3 setsid ping dnsmasq iptables conntrack tcpdump
UT="$root/dist/udp-tunnel-linux-x64"
[ -x "$UT" ] || bail "$UT is missing" "build it: node scripts/build/build.mjs --target linux-x64 udp-tunnel"
T=$LAB_TMP
KEEPALIVE=1

# ------------------------------------------------------------------ topology
# shellcheck source=test/lab/udp-tunnel-roam.sh
. "$root/test/lab/udp-tunnel-roam.sh"
roam_lab_up
for n in p6 q6; do ns_add "$n"; done
roam_link p6 eth0 rp0
roam_link q6 eth0 rq0
nsx r ip addr add 2001:db8:f1::1/64 dev rp0 nodad
nsx r ip addr add 2001:db8:f2::1/64 dev rq0 nodad
for n in p6 q6; do ns_sysctl "$n" net.ipv6.conf.all.accept_ra=0; done
nsx p6 ip addr add 2001:db8:f1::2/64 dev eth0 nodad
nsx p6 ip -6 route add default via 2001:db8:f1::1
nsx q6 ip addr add 2001:db8:f2::2/64 dev eth0 nodad
nsx q6 ip -6 route add default via 2001:db8:f2::1
require_wait 5 "underlay: q6 reaches p6 over IPv6 alone" nsx q6 ping -6 -c 1 -W 1 2001:db8:f1::2
require "underlay: p6 has no IPv4 address (but loopback)" not bash -c "ip -n $(ns_name p6) -4 addr show | grep inet | grep -vq 127.0.0.1"

# dnsmasq on r for the names; b and q6 ask it (`ip netns exec` puts /etc/netns/NS/resolv.conf
# in place of /etc/resolv.conf).
# Each name has both families: b has no IPv6 route, so it must take site-a.test's A record;
# q6 has no IPv4 at all, so it must take site-p.test's AAAA (the preference rule).
hosts() { # A's address (last byte)
	printf '198.51.100.%s site-a.test\n2001:db8:a::10 site-a.test\n2001:db8:f1::2 site-p.test\n192.0.2.77 site-p.test\n' "$1" >"$T/hosts"
}
hosts 10
bg_in r "$T/dnsmasq.out" dnsmasq --keep-in-foreground --user=root --no-resolv --no-hosts --addn-hosts="$T/hosts" \
	--listen-address=192.0.2.1 --listen-address=2001:db8:f2::1 --bind-interfaces --local-ttl=1 --log-facility=- --pid-file=
DNSMASQ=$LAB_BG_PID
for n in b q6; do
	mkdir -p "/etc/netns/$(ns_name "$n")"
	at_exit "rm_netns_$n"
	eval "rm_netns_$n() { rm -rf /etc/netns/$(ns_name "$n"); }"
done
echo "nameserver 192.0.2.1" >"/etc/netns/$(ns_name b)/resolv.conf"
echo "nameserver 2001:db8:f2::1" >"/etc/netns/$(ns_name q6)/resolv.conf"
resolves() { nsx "$1" getent ahosts "$2" | grep -q "$3"; }
require_wait 5 "dnsmasq answers site-a.test" resolves b site-a.test 198.51.100.10

# ------------------------------------------------------------------ daemons
head -c 32 /dev/urandom | base64 >"$T/key"
# serve NS NAME PORT [flags]: udp-tunnel serve in NS, control on 127.0.0.1:PORT+1
serve() {
	local ns=$1 name=$2 port=$3
	shift 3
	daemon_start "$ns" "$name" "udp-tunnel $name runs" "$UT" serve -dp "$port" -cp $((port + 1)) --keepalive "$KEEPALIVE" \
		--state "$T/$name.state" --control-socket "$T/$name.sock" --log "$T/$name.log" --log-level debug --firewall off "$@"
}
ctl() { # NS PORT ARGS...
	local ns=$1 port=$2
	shift 2
	nsx "$ns" "$UT" ctl -s 127.0.0.1 -p $((port + 1)) "$@" >>"$T/ctl.out" 2>&1
}
status() { nsx "$1" "$UT" status --control-socket "$T/$2.sock" "${@:3}"; }
# field NS NAME TUNNEL KEY: one field of a tunnel in `status --json`
field() {
	status "$1" "$2" --json | python3 -c 'import json,sys; t=[t for t in json.load(sys.stdin)["tunnels"] if t["name"]==sys.argv[1]][0]; print(t[sys.argv[2]])' "$3" "$4"
}
field_is() { [ "$(field "$1" "$2" "$3" "$4")" = "$5" ]; }
field_ge() { [ "$(field "$1" "$2" "$3" "$4")" -ge "$5" ]; }
status_has() { status "$1" "$2" | grep -qE -- "$3"; }
drops() { # NS NAME TUNNEL: "replayed forged"
	status "$1" "$2" --json | python3 -c 'import json,sys; t=[t for t in json.load(sys.stdin)["tunnels"] if t["name"]==sys.argv[1]][0]; print(t["drops"]["replayed"], t["drops"]["forged"])' "$3"
}

serve a a 5000 --key-file "$T/key"
serve b b 5000 --key-file "$T/key"
B=$LAB_BG_PID
serve c c 5000 --key-file "$T/key"
serve a ka 5010
serve b kb 5010
KB=$LAB_BG_PID
serve p6 p6 5000 --key-file "$T/key"
serve q6 q6 5000 --key-file "$T/key"
check "a: add a keyed tunnel to b" ctl a 5000 -o add -n tb -t 10.20.0.1 -r 192.0.2.2
check "b: add a keyed tunnel to a by name (site-a.test)" ctl b 5000 -o add -n ta -t 10.20.0.2 -r site-a.test
check "c (behind NAT): add a keyed tunnel to b" ctl c 5000 -o add -n tb -t 10.20.1.1 -r 192.0.2.2
check "b: add a keyed tunnel to c at its NAT's address" ctl b 5000 -o add -n tc -t 10.20.1.2 -r 100.64.0.2
check "a: add a keyless tunnel to b" ctl a 5010 -o add -n kb -t 10.21.0.1 -r 192.0.2.2
check "b: add a keyless tunnel to a by name" ctl b 5010 -o add -n ka -t 10.21.0.2 -r site-a.test
check "p6: add a keyed tunnel to q6 (IPv6 literal, IPv6 inside)" ctl p6 5000 -o add -n tq -t 10.22.0.1 --tunnel6 fd00:6::1/64 -r 2001:db8:f2::2 --route fd00:66::/64
check "q6: add a keyed tunnel to p6 by name (AAAA only)" ctl q6 5000 -o add -n tp -t 10.22.0.2 --tunnel6 fd00:6::2/64 -r site-p.test

wait_for 5 "keyed a -> b through the tunnel" nsx a ping -c 1 -W 1 10.20.0.2
wait_for 5 "keyed b -> a through the tunnel" nsx b ping -c 1 -W 1 10.20.0.1
wait_for 5 "keyless b -> a through the tunnel (name resolved)" nsx b ping -c 1 -W 1 10.21.0.1
wait_for 5 "NAT: c -> b through the tunnel" nsx c ping -c 1 -W 1 10.20.1.2
wait_for 5 "NAT: b -> c through the tunnel (no port forwarded)" nsx b ping -c 1 -W 1 10.20.1.1
wait_for 5 "IPv6 underlay: IPv4 inside, p6 -> q6" nsx p6 ping -c 1 -W 1 10.22.0.2
wait_for 5 "IPv6 underlay: IPv6 inside, q6 -> p6" nsx q6 ping -6 -c 1 -W 1 fd00:6::1
check "IPv6 inside: p6 routes fd00:66::/64 into the tunnel" bash -c "ip -n $(ns_name p6) -6 route show fd00:66::/64 | grep -q 'dev tq'"
check "q6 status: the name, its addresses, when resolved" status_has q6 q6 '^tp +site-p\.test \(2001:db8:f1::2 192\.0\.2\.77, resolved [0-9]+s ago\)'
check "q6 (routes IPv6 only): the endpoint is the AAAA address" field_is q6 q6 tp endpoint '[2001:db8:f1::2]:5000'
check "b (no IPv6 route): the endpoint is the A address" field_is b b ta endpoint 198.51.100.10:5000
check "b's state file keeps the name" grep -q '"remoteServer": "site-a.test"' "$T/b.state"
endpoint_on() { field "$1" "$2" "$3" endpoint | grep -q "^$4:[0-9]*$"; }
check "b: c's endpoint is its NAT's address, at the port of c's mapping" endpoint_on b b tc 100.64.0.2
check "b status warns about the keyless tunnel to a name" status_has b kb 'warning: tunnel ka goes to the name site-a.test without a key'
check "b status shows the name, its addresses and when it was resolved" status_has b b '^ta +site-a\.test \(2001:db8:a::10 198\.51\.100\.10, resolved [0-9]+s ago\)'

stats() { tr ' ' '\n' | awk 'NF' | sort -g | awk '{ v[NR] = $1 } END { printf "median %.1f s, max %.1f s", v[int((NR + 1) / 2)], v[NR] }'; }
under() { awk -v x="$1" -v y="$2" 'BEGIN { exit !(x <= y) }'; }
GOAL=$((KEEPALIVE + 1))

# ------------------------------------------------------------------ 2. WAN address changes under load
bg_in b "$T/iperf3-s.out" iperf3 -s -B 10.20.0.2
wait_for 5 "iperf3 server on b" bash -c "ip netns exec $(ns_name b) ss -ltn | grep -q 10.20.0.2:5201"
bg_in a "$T/iperf3-c.out" iperf3 -c 10.20.0.2 -t 30 -i 1 -b 200M
IPERF=$LAB_BG_PID
sleep 1
heals=()
for _ in 1 2 3 4 5; do
	roam_move_wan $((ROAM_WAN + 1))
	heals+=("$(roam_heal b 10.20.0.1)")
	sleep 1
done
addr=$ROAM_WAN
h=$(echo "${heals[*]}" | stats)
echo "# WAN address change under iperf3, b -> a heals in: ${heals[*]} s ($h)"
max=$(echo "${heals[*]}" | tr ' ' '\n' | sort -g | tail -1)
check "WAN address change x5 under iperf3: each heals within keepalive + 1 s ($h)" under "$max" "$GOAL"
check "b learned a's new address from its datagrams (198.51.100.$addr)" field_is b b ta endpoint "198.51.100.$addr:5000"
check "b counts the moves (>= 5)" field_ge b b ta moves 5
check "b logs each move once" bash -c "[ \$(grep -c 'tunnel ta: peer moved' $T/b.log) -ge 5 ] && [ \$(grep -c 'tunnel ta: peer moved' $T/b.log) -le 12 ]"
bg_stop "$IPERF"
check "iperf3 ran through the address changes" grep -q ' sender' "$T/iperf3-c.out"

# ------------------------------------------------------------------ 3. the name moves
check "keyless: b no longer reaches a (its datagrams go to the old address)" not nsx b ping -c 1 -W 1 10.21.0.1
hosts "$addr"
kill -HUP "$DNSMASQ"
t0=$(date +%s)
wait_for 15 "keyless: heals once b asks DNS again (silent tunnel)" nsx b ping -c 1 -W 1 10.21.0.1
echo "# keyless tunnel to a name healed $(($(date +%s) - t0)) s after the DNS change"
check "b status: site-a.test now 198.51.100.$addr" status_has b kb "^ka +site-a\\.test \\(2001:db8:a::10 198\\.51\\.100\\.$addr, resolved"
next=$((addr + 1))
hosts "$next"
kill -HUP "$DNSMASQ"
sleep 0.3
kill -HUP "$KB"
wait_for 3 "SIGHUP: b asks again at once (the log says the new address)" grep -q "site-a.test resolved to 198.51.100.$next" "$T/kb.log"

# ------------------------------------------------------------------ 4. dual WAN
nsx a ip route replace default via 203.0.113.1 dev wan1
nsx a ip link set wan0 down
h=$(roam_heal b 10.20.0.1)
echo "# dual-WAN failover: b -> a heals in $h s"
check "dual WAN: the default route moves to the second uplink; heals within keepalive + 1 s ($h s)" under "$h" "$GOAL"
check "b follows a to its second uplink (203.0.113.10)" field_is b b ta endpoint 203.0.113.10:5000

# ------------------------------------------------------------------ 5. NAT mapping flushed
bg_in b "$T/ping-c.out" ping -i 0.2 10.20.1.1
PING=$LAB_BG_PID
sleep 1
nsx n conntrack -F >/dev/null 2>&1
h=$(roam_heal b 10.20.1.1)
bg_stop "$PING"
echo "# NAT mapping flushed: b -> c heals in $h s"
check "NAT: mapping flushed while pinging; heals within keepalive + 1 s ($h s)" under "$h" "$GOAL"
check "c <-> b still both ways" nsx c ping -c 1 -W 1 10.20.1.2

# ------------------------------------------------------------------ 6. older, replayed and forged, from elsewhere
# r drops a's datagrams to b for a moment while it captures them on their way in: b never
# sees those, so sent from mallory they are authentic, unseen and older than what b has
# taken since (delayed copies); sent again they are replays; altered, forgeries.
cap=$T/a-to-b.pcap
nsx r iptables -I FORWARD -i ra1 -p udp --dport 5000 -j DROP
bg_in r "$T/tcpdump.out" tcpdump -i ra1 -U -w "$cap" -c 10 "udp and src host 203.0.113.10 and dst port 5000"
TD=$LAB_BG_PID
sleep 1
nsx b ping -c 10 -i 0.1 -W 1 10.20.0.1 >/dev/null 2>&1 || true
wait_for 5 "captured 10 of a's datagrams that r kept from b" not bg_alive "$TD"
bg_stop "$TD"
nsx r iptables -D FORWARD -i ra1 -p udp --dport 5000 -j DROP
wait_for 5 "b reaches a again" nsx b ping -c 1 -W 1 10.20.0.1
before_ep=$(field b b ta endpoint)
before_moves=$(field b b ta moves)
before_rx=$(field b b ta rxPackets)
n=$(nsx m python3 "$here/udp-tunnel-replay.py" "$cap" 192.0.2.2 5000 replay)
echo "# mallory sent $n older (authentic, never seen) datagrams"
sleep 0.3
check "older datagrams from mallory: taken (never seen, in the window)" field_ge b b ta rxPackets $((before_rx + 5))
check "... but the endpoint stays ($before_ep)" field_is b b ta endpoint "$before_ep"
before=$(drops b b ta)
for mode in replay forge newer; do
	n=$(nsx m python3 "$here/udp-tunnel-replay.py" "$cap" 192.0.2.2 5000 "$mode")
	echo "# mallory sent $n $mode datagrams"
done
sleep 0.5
after=$(drops b b ta)
echo "# b's drops (replayed forged): before $before, after $after"
check "replayed and forged datagrams from mallory: the endpoint stays ($before_ep)" field_is b b ta endpoint "$before_ep"
check "... and no move is counted, older ones included" field_is b b ta moves "$before_moves"
check "... each counted: 10 replayed, 20 forged" python3 -c "import sys; b=list(map(int,'$before'.split())); a=list(map(int,'$after'.split())); sys.exit(not (a[0] - b[0] == 10 and a[1] - b[1] == 20))"
check "the tunnel works after them" nsx b ping -c 1 -W 1 10.20.0.1

# ------------------------------------------------------------------ 7. b restarts while a moves
check "b's state file keeps a's site" grep -q '"ta": ' "$T/b.state"
bg_stop "$B"
nsx a ip link set wan0 up
nsx a ip addr add 198.51.100.30/24 dev wan0
nsx a ip route replace default via 198.51.100.1 dev wan0 src 198.51.100.30
nsx a ip link set wan1 down
serve b b 5000 --key-file "$T/key"
h=$(roam_heal b 10.20.0.1)
echo "# b restarted while a moved: b -> a heals in $h s after b answers"
check "restart: b finds a at its new address by its kept site, within keepalive + 1 s ($h s)" under "$h" "$GOAL"
check "... b's endpoint for a is the new address" field_is b b ta endpoint 198.51.100.30:5000

finish
