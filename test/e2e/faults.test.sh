#!/usr/bin/env bash
# shellcheck disable=SC2317 # helpers are invoked through check/wait_for
# shellcheck source-path=SCRIPTDIR
# test/e2e/faults.test.sh - each daemon, the real x64 executable, under the failures a
# gateway meets (issue 15), in the labs of test/lab/:
#
#   a. the interfaces it uses are deleted and re-created: it works again within 10 s
#      (mld-proxy's WAN, ssdp-proxy's LAN, udp-proxy's client side, udp-tunnel's underlay)
#   b. 100 SIGHUPs in 10 s: it runs on, works, and neither its open files nor its
#      anonymous memory grow (figures printed)
#   c. its log directory fills up: it keeps working, says so once on stderr, and logs to
#      the file again once there is room
#   d. its wall clock is stepped back and forward by an hour: the relay and control
#      freshness windows refuse what is out of them and take what is in, and every timeout
#      (address lifetime, search deadline, session idle, tunnel silence) runs on
#
# Each daemon runs as the gateway would run it, with two differences no other process on
# the machine sees: its wall clock comes through libfaketime (LD_PRELOAD, the offset read
# from a file; the monotonic clock is left alone, as an NTP step leaves it), and its log
# directory is a 256 KiB tmpfs mounted in a mount namespace of its own. This machine's
# clock and /var/log are never touched.
#
# Run as root: test/e2e/faults.test.sh   (needs dist/*-linux-x64; ~2 min)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/lib.sh"
need_root
need_cmd ip nft dnsmasq dig python3 node setsid unshare nsenter minidlnad curl
t0=$(date +%s)

lab_exe MP mld-proxy
lab_exe SP ssdp-proxy
lab_exe UP udp-proxy
lab_exe UT udp-tunnel
FAKETIME_LIB=$(find /usr/lib -path '*/faketime/libfaketimeMT.so.1' 2>/dev/null | head -n 1)
[ -n "$FAKETIME_LIB" ] || bail "libfaketime is missing" "scripts/dev/setup.sh installs it (Debian package faketime)"
T=$LAB_TMP

# ------------------------------------------------------------------ helpers
declare -A FPID=() FNS=()
# faulty NS NAME EXE ARGS... : start one of our daemons in NS, its wall clock offset by
#   $T/NAME.clock (libfaketime reads it at every call: 5 us, the daemons ask rarely) and its log directory $T/NAME-log
#   a 256 KiB tmpfs only it sees; its pid in FPID[NAME]. Its log: flog NAME.
faulty() {
	local ns=$1 name=$2
	shift 2
	printf '+0\n' >"$T/$name.clock"
	mkdir -p "$T/$name-log"
	# shellcheck disable=SC2016 # expanded by the inner sh
	bg_in "$ns" "$T/$name.out" unshare --mount --propagation private \
		sh -c 'mount -t tmpfs -o size=256k,mode=0755 faults "$1" && shift && exec "$@"' sh "$T/$name-log" \
		env LD_PRELOAD="$FAKETIME_LIB" FAKETIME_TIMESTAMP_FILE="$T/$name.clock" FAKETIME_NO_CACHE=1 \
		FAKETIME_DONT_FAKE_MONOTONIC=1 "$@"
	FPID[$name]=$LAB_BG_PID
	FNS[$name]=$ns
}
flog() { nsenter -t "${FPID[$1]}" -m cat "$T/$1-log/$1.log"; }
# clock NAME... OFFSET : step those daemons' wall clocks to OFFSET from the real one
# (libfaketime syntax: +0, -1h, +1h).
clock() {
	local n
	for n in "${@:1:$#-1}"; do printf '%s\n' "${*: -1}" >"$T/$n.clock"; done
	sleep 0.3
}
# mem_fds PID : "VmRSS_kB RssAnon_kB open_files"
mem_fds() {
	printf '%s %s %s\n' "$(awk '/^VmRSS:/ { print $2 }' "/proc/$1/status")" \
		"$(awk '/^RssAnon:/ { print $2 }' "/proc/$1/status")" "$(find "/proc/$1/fd" -mindepth 1 | wc -l)"
}
sj() { # NAME SOCKNAME EXE PYEXPR : a python expression over the daemon's status as `s`
	nsx "${FNS[$1]}" "$3" status --json --control-socket "$T/$2.sock" | python3 -c "import json,sys; s=json.load(sys.stdin); sys.exit(0 if ($4) else 1)"
}

# ------------------------------------------------------------------ labs and daemons
. "$root/test/lab/mld-proxy.sh"
. "$root/test/lab/ssdp-proxy.sh"
. "$root/test/lab/udp-proxy.sh"
. "$root/test/lab/udp-tunnel.sh"

# mld-proxy: the bench's quiet lab (no RA, snooping or ndppd: the NS that teach it are injected).
mld_quiet_topology_up
mld_conf() { # TIMEOUT
	cat >"$T/mld.json" <<EOF
{ "upstream": "$RTR_WAN", "downstream": ["$RTR_LAN"], "timeout": $1, "checkInterval": 1,
  "log": "$T/mld-log/mld.log", "pidFile": "$T/mld.pid", "controlSocket": "$T/mld.sock" }
EOF
}
mld_conf 60
faulty rtr mld "$MP" --config "$T/mld.json"
mld_ns() { (cd "$root" && nsx host node -r esbuild-register test/e2e/ndp-inject.ts "$HOST_IF" --ns "$HOST_ADDR" "$RTR_WAN_ADDR" >/dev/null); }
mld_joined() { ip -n "$RTR_NS" -6 maddr show dev "$RTR_WAN" | grep -q "$HOST_SNMA"; }
mld_knows() { sj mld mld "$MP" "any(a['address'] == '$HOST_ADDR' for a in s['addresses'])"; }
mld_works() { mld_ns && poll 5 mld_joined; }

# ssdp-proxy: two sites, minidlna on A's LAN, searched for from B's.
ssdp_topology_up a b
lan_up a 1
lan_up b 2
ssdp_helpers_write
minidlna_up
for s in a b; do
	peer=$([ "$s" = a ] && echo 10.0.0.2 || echo 10.0.0.1)
	cat >"$T/$s.json" <<EOF
{ "lans": ["lan0"], "peers": ["$peer"], "keyFile": "$KEY", "log": "$T/$s-log/$s.log",
  "pidFile": "$T/$s.pid", "controlSocket": "$T/$s.sock" }
EOF
	faulty "${s}router" "$s" "$SP" --config "$T/$s.json"
done
MS='urn:schemas-upnp-org:device:MediaServer:1'
ssdp_works() { nsx blan python3 "$PY" search "$MS" 1 2 | grep -q '192.168.1.10:8200/rootDesc.xml'; }

# udp-proxy: dig through it to the VIP service that answers from its real address.
udp_topology_up
faulty proxy up "$UP" --listen 10.0.1.1:53 --upstream 10.0.2.254:53 --reply-alias 10.0.2.2 \
	--idle-timeout 4 --log "$T/up-log/up.log" --control-socket "$T/up.sock" --pid-file "$T/up.pid"
up_works() { [ "$(nsx client dig +short +tries=1 +time=1 @10.0.1.1 svc.test A 2>/dev/null)" = 192.0.2.53 ]; }
up_sessions() { sj up up "$UP" "len(s['rules'][0]['sessions']) == $1"; }

# udp-tunnel: h1 and h2 keyed, control off localhost (signed), keepalives every second.
tunnel_underlay_up
tunnel_host_add 1
tunnel_host_add 2
head -c 32 /dev/urandom | base64 >"$T/tunnel.key"
for h in h1 h2; do
	faulty "$h" "$h" "$UT" serve -dp 5100 -cp 5101 --control-address 0.0.0.0 --key-file "$T/tunnel.key" \
		--keepalive 1 --log "$T/$h-log/$h.log" --control-socket "$T/$h.sock" --pid-file "$T/$h.pid"
done
ctl() { nsx "$1" "$UT" ctl -s "$2" -p 5101 --key-file "$T/tunnel.key" "${@:3}"; }
ctl_expired() { # a signed list from h2 to h1 is refused for its timestamp
	local out
	if out=$(ctl h2 192.0.2.1 -o list 2>&1); then return 1; fi
	echo "$out"
	grep -q 'refused: timestamp is' <<<"$out"
}
ut_works() { nsx h1 ping -c 1 -W 1 10.9.0.2 >/dev/null; }
ut_silent() { sj h1 h1 "$UT" "[t['name'] for t in s['tunnels'] if t['silent']] == ['$1']"; }

for n in mld a b up h1 h2; do
	sock=$n
	exe=$([ "$n" = mld ] && echo "$MP" || { [ "$n" = up ] && echo "$UP"; } || { [[ "$n" = h* ]] && echo "$UT"; } || echo "$SP")
	require_wait 10 "$n: the daemon answers on its status socket" nsx "${FNS[$n]}" "$exe" status --control-socket "$T/$sock.sock"
done
require "udp-tunnel: h2 adds tunnel ut to h1, signed, from off localhost" ctl h2 192.0.2.1 -o add -n ut -t 10.9.0.1 -m 24 -r 192.0.2.2
require "... and h1's end on h2" ctl h2 192.0.2.2 -o add -n ut -t 10.9.0.2 -m 24 -r 192.0.2.1
require "... and a tunnel on h1 to a peer that never answers" ctl h2 192.0.2.1 -o add -n uq -t 10.9.1.1 -r 192.0.2.77
require_wait 5 "udp-tunnel: ping through the keyed tunnel" ut_works
require_wait 5 "mld-proxy: an NS from the LAN host joins its group on the WAN" mld_works
require_wait 10 "ssdp-proxy: a search on B's LAN finds minidlna on A's" ssdp_works
require_wait 5 "udp-proxy: dig through the proxy gets the answer" up_works

# ------------------------------------------------------------------ a. interfaces re-created
echo "# a. interfaces deleted and re-created"
ip -n "$RTR_NS" link del "$RTR_WAN"
ip -n "$RTR_NS" link add "$RTR_WAN" address "$RTR_WAN_MAC" type veth peer name "$GW_RTR_PORT" netns "$GW_NS"
ip -n "$GW_NS" link set "$GW_RTR_PORT" up
ip -n "$RTR_NS" link set "$RTR_WAN" up
ip -n "$RTR_NS" addr add "$RTR_WAN_ADDR/64" dev "$RTR_WAN" nodad
wait_for 10 "mld-proxy: the re-created WAN holds the LAN host's group again within 10 s" mld_joined

ip -n "$(ns_name brouter)" link del lan0
wait_for 6 "ssdp-proxy B notices its LAN is gone" sj b b "$SP" "not s['lans'][0]['present']"
lan_up b 2
wait_for 10 "ssdp-proxy: a search from B's re-created LAN finds minidlna again within 10 s" ssdp_works

ip -n "$(ns_name proxy)" link del p0
ip link add c0 netns "$(ns_name client)" type veth peer name p0 netns "$(ns_name proxy)"
nsx client ip addr add 10.0.1.2/24 dev c0
nsx proxy ip addr add 10.0.1.1/24 dev p0
nsx client ip link set c0 up
nsx proxy ip link set p0 up
wait_for 10 "udp-proxy: dig through the re-created client link works again within 10 s" up_works

ip -n "$(ns_name h1)" link del eth0
ip link add eth0 netns "$(ns_name h1)" type veth peer name v-h1 netns "$(ns_name sw)"
nsx sw ip link set v-h1 master br0 up
nsx h1 ip addr add 192.0.2.1/24 dev eth0
nsx h1 ip link set eth0 up
wait_for 10 "udp-tunnel: ping through the tunnel over h1's re-created underlay within 10 s" ut_works

# ------------------------------------------------------------------ b. SIGHUP storm
echo "# b. 100 SIGHUPs in 10 s, to every daemon at once"
declare -A BEFORE=() AFTER=()
for n in mld a up h1; do BEFORE[$n]=$(mem_fds "${FPID[$n]}"); done
for _ in $(seq 1 100); do
	for n in mld a up h1; do kill -HUP "${FPID[$n]}"; done
	sleep 0.1
done
sleep 2 # the last reloads finish; the heap settles
for n in mld a up h1; do AFTER[$n]=$(mem_fds "${FPID[$n]}"); done
declare -A WORKS=([mld]=mld_works [a]=ssdp_works [up]=up_works [h1]=ut_works)
for n in mld a up h1; do
	read -r rss0 anon0 fd0 <<<"${BEFORE[$n]}"
	read -r rss1 anon1 fd1 <<<"${AFTER[$n]}"
	echo "# $n: VmRSS $((rss0 / 1024)) -> $((rss1 / 1024)) MB, RssAnon $((anon0 / 1024)) -> $((anon1 / 1024)) MB, open files $fd0 -> $fd1"
	check "$n: alive after 100 SIGHUPs" bg_alive "${FPID[$n]}"
	check "$n: open files did not grow ($fd0 -> $fd1)" test "$fd1" -le "$fd0"
	check "$n: anonymous memory grew less than 4 MB ($anon0 -> $anon1 kB)" test $((anon1 - anon0)) -lt 4096
	wait_for 5 "$n: still works after the storm" "${WORKS[$n]}"
done

# ------------------------------------------------------------------ c. log directory full
echo "# c. the log directory fills up"
for n in mld a up h1; do
	# A file takes the free blocks; the log's own last block is topped up too (an append
	# fills a partly used block before it needs a new one).
	nsenter -t "${FPID[$n]}" -m sh -c "cat /dev/zero >'$T/$n-log/fill'; yes filler >>'$T/$n-log/$n.log'" 2>/dev/null || true
	for _ in 1 2 3; do kill -HUP "${FPID[$n]}"; sleep 0.3; done
done
for n in mld a up h1; do
	wait_for 5 "$n: says on stderr that it cannot write its log" grep -q "cannot write log file $T/$n-log/$n.log" "$T/$n.out"
	wait_for 5 "$n: still works with a full log directory" "${WORKS[$n]}"
	check "$n: said so once, for 6 failed lines" test "$(grep -c 'cannot write log file' "$T/$n.out")" = 1
	check "$n: the lines it could not write went to stderr" grep -q 'configuration reloaded' "$T/$n.out"
	nsenter -t "${FPID[$n]}" -m rm -f "$T/$n-log/fill"
	before=$(flog "$n" | grep -c 'configuration reloaded' || true)
	kill -HUP "${FPID[$n]}"
	wait_for 5 "$n: logs to the file again once there is room" sh -c "[ \$(nsenter -t ${FPID[$n]} -m grep -c 'configuration reloaded' $T/$n-log/$n.log) -gt $before ]"
done

# ------------------------------------------------------------------ d. clock steps
echo "# d. wall clock stepped back and forward by an hour"
# mld-proxy (timeout 10 s): an address learned before a step forward must not expire at
# the next check; one learned before a step back must not outlive its 10 s.
mld_conf 10
kill -HUP "${FPID[mld]}"
wait_for 5 "mld-proxy: reloaded with a 10 s timeout" sj mld mld "$MP" "s['timeoutMs'] == 10000"
mld_ns
wait_for 3 "mld-proxy: learned the LAN host" mld_knows
clock mld +1h
sleep 2
check "mld-proxy, stepped forward an hour: the address is still there 3 s later" mld_knows
check "... and its group still joined" mld_joined
wait_for 12 "... and it goes after its 10 s of silence" not mld_knows
mld_ns
wait_for 3 "mld-proxy: learned the LAN host again" mld_knows
clock mld +0
wait_for 12 "mld-proxy, stepped back an hour: the address still goes after its 10 s" not mld_knows
check "... and leaves its group" not mld_joined

# ssdp-proxy: one site's clock off by an hour puts its frames out of the 30 s window;
# both stepped together (as NTP would leave them agreeing) relay as before, and the
# search deadlines (MX + 1 s) still expire.
clock b -1h
check "ssdp-proxy, B an hour behind A: B's search does not cross" not ssdp_works
check "... A counts B's frames as stale" sj a a "$SP" "s['peers'][0]['drops'].get('stale', 0) >= 1"
clock b +0
wait_for 5 "... and with B's clock back, it does" ssdp_works
# A search in flight while both clocks step back: its deadline (MX 1 + 1 s) still comes.
nsx blan python3 "$PY" search "$MS" 1 1 >/dev/null &
sleep 0.3
clock a b -1h
none_pending() { sj "$1" "$1" "$SP" "s['pendingSearches'] == 0 and s['remoteSearches'] == 0"; }
wait_for 4 "ssdp-proxy, both stepped back an hour mid-search: the search expires at B" none_pending b
# A took the search in when B's frame arrived, a moment after B: its deadline comes as
# much later (CI once looked in between).
wait_for 2 "... and at A" none_pending a
wait_for 5 "... and a new search from B finds minidlna" ssdp_works
clock a b +1h
wait_for 5 "ssdp-proxy, both stepped forward an hour: a search from B finds minidlna" ssdp_works
wait_for 4 "... and expires at B" none_pending b
wait_for 2 "... and at A" none_pending a
clock a b +0

# udp-proxy (--idle-timeout 4): a session survives a step forward, and a step back does
# not keep an idle one open.
wait_for 5 "udp-proxy: the client's session" up_works
port0=$(nsx proxy "$UP" status --json --control-socket "$T/up.sock" | python3 -c "import json,sys; print(json.load(sys.stdin)['rules'][0]['sessions'][0]['localPort'])" 2>/dev/null || echo none)
clock up +1h
sleep 1.2 # a sweep (every second) has run on the new clock; the session is 1.5 s idle
check "udp-proxy, stepped forward an hour: the session in use is still open" sj up up "$UP" "[x['localPort'] for x in s['rules'][0]['sessions']] == [$port0]"
wait_for 7 "... and closes after 4 s idle" up_sessions 0
check "udp-proxy: a new session" up_works
clock up +0
wait_for 7 "udp-proxy, stepped back an hour: the idle session still closes after 4 s" up_sessions 0

# udp-tunnel: signed control messages carry the sender's wall time; h1 an hour off refuses
# them, in step takes them. Silence (3 keepalives) is a timeout and runs on.
for off in -1h +1h; do
	clock h1 "$off"
	check "udp-tunnel, h1 stepped to $off: a signed ctl from h2 is refused as expired" ctl_expired
	check "... the keyed tunnel still carries pings" ut_works
	wait_for 5 "... the quiet peer shows silent and the live one does not" ut_silent uq
done
clock h1 +0
check "udp-tunnel, h1 back in step: a signed ctl from h2 is taken" ctl h2 192.0.2.1 -o list

for n in mld a b up h1 h2; do
	check "$n: ran through it all" bg_alive "${FPID[$n]}"
	check "$n: never logged an ERROR or a stack trace" not sh -c "{ cat '$T/$n.out'; nsenter -t ${FPID[$n]} -m cat '$T/$n-log/$n.log'; } | grep -E ' ERROR |^\s+at '"
done
note "took $(($(date +%s) - t0)) s"
finish
