#!/usr/bin/env bash
# shellcheck disable=SC2317 # helpers are invoked through check/wait_for
# test/e2e/udp-tunnel.test.sh - the real udp-tunnel executable on three hosts of an
# underlay bridge, meshed with `udp-tunnel ctl` as in the original README (its
# 172.100.1.x hosts are 192.0.2.x here), plus a keyed pair beside it:
#
#        h1 192.0.2.1        h2 192.0.2.2        h3 192.0.2.3      mallory 192.0.2.66
#     lan1 192.168.1.2    lan2 192.168.2.2    lan3 192.168.3.2   (LAN hosts, via hN .1)
#           \___________________ bridge (ns sw) _____________________/
#
#   a. the README's six ctl lines (two of its typos fixed: host 1's tunnel to host 3
#      names host 2 as remote, host 3 calls its tunnel to host 2 "udp3" but routes via
#      "udp2"); routes: host 1 with ctl --route, hosts 2 and 3 with the README's
#      `route add`; ping every pair of tunnel addresses and every LAN behind a peer;
#      a full 1500-byte packet passes whole; iperf3 TCP through a tunnel
#   b. the original client's JSON (add, delete) on localhost; bad messages get an
#      error reply and the daemon lives; datagrams from a stranger are counted
#   c. keyed daemons (control on 0.0.0.0): ctl --key-file from another host works;
#      unsigned, bad-MAC, expired and replayed control messages are refused and
#      counted; the keyed tunnel carries ping and iperf3; forged data datagrams are
#      dropped and counted; a silent peer shows as silent
#   d. del removes the device and its routes; a restart restores tunnels from state
#
# a-d run three times: with batching and every offload (the default), with
# --no-offload, and with the kernel refusing recvmmsg/sendmmsg, UDP GSO and the tun
# offloads (the old-kernel stand-in), where each refusal is logged once and the
# next simpler path taken.
#
# Run as root: test/e2e/udp-tunnel.test.sh   (needs dist/udp-tunnel-linux-x64; ~2 min)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=test/e2e/lib.sh
. "$here/lib.sh"
need_root
need_cmd ip python3 iperf3 setsid ping
t0=$(date +%s)

UT="$root/dist/udp-tunnel-linux-x64"
if [ ! -x "$UT" ]; then
	bail "$UT is missing" "build it: node scripts/build/build.mjs --target linux-x64 udp-tunnel"
fi
SENDPY="$here/udp-tunnel-send.py"

# ------------------------------------------------------------------ topology
# shellcheck source=test/lab/udp-tunnel.sh
. "$here/../lab/udp-tunnel.sh"
tunnel_topology_up

T=$LAB_TMP
head -c 32 /dev/urandom | base64 >"$T/key"
head -c 32 /dev/urandom | base64 >"$T/wrong-key"

declare -A PID=()
MODE_ENV=()
MODE_FLAGS=()
serve() { # HOST (keyless, ports 5000/5001, state in $T)
	bg_in "$1" "$T/$1.out" "${MODE_ENV[@]}" "$UT" serve "${MODE_FLAGS[@]}" -dp 5000 -cp 5001 --state "$T/$1.state" \
		--control-socket "$T/$1.sock" --pid-file "$T/$1.pid" --log "$T/$1.log" --log-level debug
	PID[$1]=$LAB_BG_PID
}
serve_keyed() { # HOST: the same binary, second daemon, keyed, control off localhost
	bg_in "$1" "$T/$1-k.out" "${MODE_ENV[@]}" "$UT" serve "${MODE_FLAGS[@]}" -dp 5100 -cp 5101 --control-address 0.0.0.0 \
		--key-file "$T/key" --keepalive 1 --state "$T/$1-k.state" \
		--control-socket "$T/$1-k.sock" --pid-file "$T/$1-k.pid" --log "$T/$1-k.log"
	PID[$1-k]=$LAB_BG_PID
}
ctl() { # HOST ARGS...
	local h=$1
	shift
	nsx "$h" "$UT" ctl "$@"
}

status_has() { nsx "$1" "$UT" status --control-socket "$T/$1.sock" | grep -qF -- "$2" || { nsx "$1" "$UT" status --control-socket "$T/$1.sock"; return 1; }; }
# TSO on the sender, GRO on the receiver, during a's iperf3 run h1 -> h2. (Its tunnel
# has the README's MTU 1500 on a 1500 underlay: the datagrams are fragmented, so UDP
# GSO, which never fragments, is not used there; test/e2e/udp-tunnel-offload tests it.)
offloads_used() {
	nsx h1 "$UT" status --control-socket "$T/h1.sock" --json | python3 -c 'import json,sys; o=json.load(sys.stdin)["offloads"]; print(o); sys.exit(not (o["tsoSuperPackets"] > 0))' &&
		nsx h2 "$UT" status --control-socket "$T/h2.sock" --json | python3 -c 'import json,sys; o=json.load(sys.stdin)["offloads"]; print(o); sys.exit(not (o["groSuperPackets"] > 0))'
}

tunnel_checks() { # MODE: offload | no-offload | refused
	local mode=$1 p
	MODE_ENV=(env)
	MODE_FLAGS=()
	case $mode in
	no-offload) MODE_FLAGS=(--no-offload) ;;
	refused) MODE_ENV=(env "UDM_PROXIES_TEST_KERNEL_REFUSES=batching,udp-gso,tun-offload") ;;
	esac
	echo "# ---------------- data path: $mode"
for h in h1 h2 h3; do serve "$h"; done
for h in h1 h2 h3; do require_wait 5 "$h: daemon answers on its status socket" nsx "$h" "$UT" status --control-socket "$T/$h.sock"; done


# ------------------------------------------------------------------ a. the README mesh
check "h1: add udp2 (README line, plus --route)" ctl h1 -s 192.0.2.1 -o add -n udp2 -t 10.0.1.1 -r 192.0.2.2 -p 5001 --route 192.168.2.0/24
check "h1: add udp3 (README line, remote typo fixed, plus --route)" ctl h1 -s 192.0.2.1 -o add -n udp3 -t 10.0.3.1 -r 192.0.2.3 -p 5001 --route 192.168.3.0/24
check "h2: add udp1 (README line)" ctl h2 -s 192.0.2.2 -o add -n udp1 -t 10.0.1.2 -r 192.0.2.1 -p 5001
check "h2: add udp3 (README line)" ctl h2 -s 192.0.2.2 -o add -n udp3 -t 10.0.2.2 -r 192.0.2.3 -p 5001
check "h3: add udp1 (README line)" ctl h3 -s 192.0.2.3 -o add -n udp1 -t 10.0.3.2 -r 192.0.2.1 -p 5001
check "h3: add udp2 (README line, named as its routes use it)" ctl h3 -s 192.0.2.3 -o add -n udp2 -t 10.0.2.3 -r 192.0.2.2 -p 5001
# The README's `route add -net NET netmask 255.255.255.0 dev DEV` (net-tools); the same
# with ip where net-tools is not installed.
readme_route() { # HOST NET DEV
	if command -v route >/dev/null; then
		nsx "$1" route add -net "$2" netmask 255.255.255.0 dev "$3"
	else
		nsx "$1" ip route add "$2/24" dev "$3"
	fi
}
check "h2: README route add via udp1" readme_route h2 192.168.1.0 udp1
check "h2: README route add via udp3" readme_route h2 192.168.3.0 udp3
check "h3: README route add via udp1" readme_route h3 192.168.1.0 udp1
check "h3: README route add via udp2" readme_route h3 192.168.2.0 udp2
check "h1: --route installed 192.168.2.0/24 dev udp2" bash -c "ip -n $(ns_name h1) route show 192.168.2.0/24 | grep -q 'dev udp2'"

pings() { # FROM TO...
	local from=$1 to
	shift
	for to in "$@"; do wait_for 5 "ping $from -> $to" nsx "$from" ping -c 1 -W 1 "$to"; done
}
pings h1 10.0.1.2 10.0.3.2 192.168.2.2 192.168.3.2
pings h2 10.0.1.1 10.0.2.3 192.168.1.2 192.168.3.2
pings h3 10.0.3.1 10.0.2.2 192.168.1.2 192.168.2.2
check "a full-MTU packet (1500 bytes, DF) passes whole h1 -> h2" nsx h1 ping -c 1 -W 2 -M "do" -s 1472 10.0.1.2

list_has() { # HOST REGEX: ctl list on HOST (its own address) matches
	local out
	out=$(ctl "$1" -s "$(nsx "$1" ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1)" -o list)
	echo "$out"
	grep -qE -- "$2" <<<"$out"
}
check "h1: ctl list shows udp2 to 192.0.2.2 with rx/tx counts" list_has h1 '^udp2 +192\.0\.2\.2 +10\.0\.1\.1/30 +1500 +[1-9][0-9]* +[0-9]+[kM]?B +[1-9]'

bg_in h2 "$T/iperf-s.txt" iperf3 -s -1 -B 10.0.1.2
wait_for 5 "iperf3 server listening" bash -c "ip netns exec $(ns_name h2) ss -ltn | grep -q 10.0.1.2:5201"
check "iperf3 TCP h1 -> h2 through udp2 (2 s)" nsx h1 iperf3 -c 10.0.1.2 -t 2 -f m
grep -E 'receiver' "$T/iperf-s.txt" | tail -1 | sed 's/^/# keyless: /' || true

	case $mode in
	offload)
		check "status: batched, UDP GSO, tun TSO and GRO" status_has h1 "data path: batched (recvmmsg/sendmmsg), UDP GSO, tun TSO and GRO"
		check "... and the offloads were used: TSO and GRO counted" offloads_used
		;;
	no-offload) check "status: every offload off" status_has h1 "data path: one datagram per system call (--no-offload), no UDP GSO (--no-offload), plain tun packets (--no-offload)" ;;
	refused)
		# Without super-packets from the tun device there is nothing to send with GSO.
		check "status: each refusal and its errno" status_has h1 "data path: one datagram per system call (the kernel refused: EINVAL), UDP GSO, plain tun packets (the kernel refused: EINVAL)"
		check "each refusal is logged once" bash -c "[ \$(grep -c 'WARN.*the kernel refused' '$T/h1.log') = 2 ]"
		;;
	esac

# ------------------------------------------------------------------ b. original client, bad input
orig() { # HOST OP NAME: the original udpProxyServerControl.py's message, to 127.0.0.1
	nsx "$1" python3 "$SENDPY" control plain - 127.0.0.1 5001 \
		"{\"op\": \"$2\", \"tunnel\": [{\"name\": \"$3\", \"tunnelIP\": \"10.0.9.1\", \"netmask\": \"255.255.255.252\", \"mtu\": 1400, \"remoteServer\": \"192.0.2.99\"}]}"
}
orig_ok() { orig "$@" | grep -q '"ok":true'; }
check "original client's add message works" orig_ok h1 add orig9
check "... and made the device with its MTU" bash -c "ip -n $(ns_name h1) link show orig9 | grep -q 'mtu 1400'"
check "original client's delete message works" orig_ok h1 delete orig9
check "... and the device is gone" not ip -n "$(ns_name h1)" link show orig9

check "the original client's flags: -tm NETMASK -m MTU" ctl h1 -s 192.0.2.1 -o add -n origm -t 10.0.8.1 -tm 255.255.255.0 -m 1300 -r 192.0.2.98
check "... gave the device MTU 1300 and a /24" bash -c "ip -n $(ns_name h1) link show origm | grep -q 'mtu 1300' && ip -n $(ns_name h1) route show 10.0.8.0/24 | grep -q origm"
check "... and del with the original's flags removes it" ctl h1 -s 192.0.2.1 -o del -n origm -t 10.0.8.1 -r 192.0.2.98
usage_refused() { # REGEX ARGS... : exit 2 and the message
	local out rc=0
	out=$("$UT" "${@:2}" 2>&1) || rc=$?
	echo "$out"
	[ "$rc" = 2 ] && grep -qE -- "$1" <<<"$out"
}
check "serve refuses control off localhost without a key" usage_refused 'give --key-file' serve --control-address 0.0.0.0
check "ctl refuses a bad MTU before sending" usage_refused '--mtu: 20 is out of range' ctl -s 127.0.0.1 -n x -t 10.0.0.1 -r 192.0.2.9 --mtu 20
check "ctl refuses a bad route before sending" usage_refused '--route' ctl -s 127.0.0.1 -n x -t 10.0.0.1 -r 192.0.2.9 --route 300.1.2.0/24

bad_reply() { # BODY REGEX
	local out
	out=$(nsx h1 python3 "$SENDPY" control plain - 127.0.0.1 5001 "$1")
	echo "$out"
	grep -qE -- "$2" <<<"$out"
}
check "bad JSON: error reply" bad_reply '{"op": "add", "tunnel": [' '"ok":false.*not valid JSON'
check "string MTU: error reply" bad_reply '{"op":"add","tunnel":[{"name":"x1","tunnelIP":"10.0.9.1","netmask":"255.255.255.0","mtu":"big","remoteServer":"192.0.2.99"}]}' 'mtu.*integer'
check "name too long: error reply" bad_reply '{"op":"add","tunnel":[{"name":"abcdefghijklmnopq","tunnelIP":"10.0.9.1","remoteServer":"192.0.2.99"}]}' 'not a valid tunnel name'
check "bad netmask: error reply" bad_reply '{"op":"add","tunnel":[{"name":"x1","tunnelIP":"10.0.9.1","netmask":"255.0.255.0","remoteServer":"192.0.2.99"}]}' 'contiguous'
check "a name starting with '-': the daemon refuses it, naming the rule" bad_reply '{"op":"add","tunnel":[{"name":"-x","tunnelIP":"10.0.9.1","remoteServer":"192.0.2.99"}]}' 'starting with a letter or digit'
check "ctl -n -x: the name reaches the rule (not 'unknown option -x')" usage_refused '--name: "-x" is not a valid tunnel name .*starting with a letter or digit' ctl -s 127.0.0.1 -o add -n -x -t 10.0.0.1 -r 192.0.2.9
check "del of an unknown tunnel: error reply (the original crashed)" bad_reply '{"op":"del","tunnel":[{"name":"nope"}]}' 'no tunnel nope'
check "h1 daemon still running after bad messages" bg_alive "${PID[h1]}"

nsx mallory python3 "$SENDPY" data 192.0.2.2 5000 5
stranger() { nsx h2 "$UT" status --control-socket "$T/h2.sock" --json | grep -qE '"unknownSource": [5-9]'; }
wait_for 3 "h2 counts 5 datagrams from a stranger" stranger

# ------------------------------------------------------------------ c. keyed daemons
serve_keyed h1
serve_keyed h2
for h in h1 h2; do require_wait 5 "$h: keyed daemon up" nsx "$h" "$UT" status --control-socket "$T/$h-k.sock"; done
check "ctl --key-file from h3 adds a tunnel on h1's keyed daemon" ctl h3 -s 192.0.2.1 -p 5101 --key-file "$T/key" -o add -n ukey -t 10.9.0.1 -m 255.255.255.0 -r 192.0.2.2
check "ctl --key-file from h3 adds the other end on h2" ctl h3 -s 192.0.2.2 -p 5101 --key-file "$T/key" -o add -n ukey -t 10.9.0.2 -m 24 --mtu 1400 -r 192.0.2.1
wait_for 5 "ping through the keyed tunnel h1 -> h2" nsx h1 ping -c 1 -W 1 10.9.0.2
check "a full-MTU packet (1400) passes whole through the keyed tunnel" nsx h1 ping -c 1 -W 2 -M "do" -s 1372 10.9.0.2

refused() { # MODE KEYFILE
	local out
	out=$(nsx mallory python3 "$SENDPY" control "$1" "$2" 192.0.2.1 5101 '{"op":"list"}')
	echo "$out"
	case $1 in
	replay) [ "$(sed -n 1p <<<"$out" | grep -c '"ok":true')" = 1 ] && sed -n 2p <<<"$out" | grep -q 'replayed' ;;
	*) grep -q 'refused' <<<"$out" ;;
	esac
}
check "unsigned control from off localhost refused" refused plain -
check "wrong key refused" refused signed "$T/wrong-key"
check "tampered body (bad MAC) refused" refused badmac "$T/key"
check "expired timestamp refused" refused expired "$T/key"
check "replay refused (first copy accepted)" refused replay "$T/key"
check "ctl without the key is refused" not ctl mallory -s 192.0.2.1 -p 5101 -o list
counted_refused() { nsx h1 "$UT" status --control-socket "$T/h1-k.sock" --json | grep -qE '"controlRefused": ([6-9]|[1-9][0-9])'; }
check "refused control messages are counted" counted_refused

bg_in h2 "$T/iperf-k.txt" iperf3 -s -1 -B 10.9.0.2
wait_for 5 "iperf3 server listening (keyed)" bash -c "ip netns exec $(ns_name h2) ss -ltn | grep -q 10.9.0.2:5201"
check "iperf3 TCP h1 -> h2 through the keyed tunnel (2 s)" nsx h1 iperf3 -c 10.9.0.2 -t 2 -f m
grep -E 'receiver' "$T/iperf-k.txt" | tail -1 | sed 's/^/# keyed: /' || true

# Forged datagrams from h1's own address (another socket): demux finds the tunnel,
# authentication fails.
nsx h1 python3 "$SENDPY" data 192.0.2.2 5100 7
forged() { nsx h2 "$UT" status --control-socket "$T/h2-k.sock" --json | grep -qE '"forged": ([7-9]|[1-9][0-9])'; }
wait_for 3 "h2 drops and counts 7 forged data datagrams" forged
check "the keyed tunnel still works after the forgeries" nsx h1 ping -c 1 -W 1 10.9.0.2
check "h1 keyed: add a tunnel to a peer that never answers" ctl h3 -s 192.0.2.1 -p 5101 --key-file "$T/key" -o add -n uquiet -t 10.9.1.1 -r 192.0.2.77
silent() { ctl h3 -s 192.0.2.1 -p 5101 --key-file "$T/key" -o list | grep -E '^uquiet .*never \(silent\)'; }
wait_for 6 "list shows the quiet peer as silent" silent
live() { ctl h3 -s 192.0.2.1 -p 5101 --key-file "$T/key" -o list | grep -E '^ukey ' | grep -vq silent; }
check "... and the live keyed peer not" live

# ------------------------------------------------------------------ d. del, restart
check "h1: del udp2" ctl h1 -s 192.0.2.1 -o del -n udp2 -t 10.0.1.1 -r 192.0.2.2
check "udp2 device is gone" not ip -n "$(ns_name h1)" link show udp2
check "its route 192.168.2.0/24 is gone" bash -c "[ -z \"\$(ip -n $(ns_name h1) route show 192.168.2.0/24)\" ]"
check "state file no longer has udp2" not grep -q '"udp2"' "$T/h1.state"
check "state file has udp3" grep -q '"udp3"' "$T/h1.state"

bg_stop "${PID[h1]}"
check "stopping h1's daemon removes udp3" not ip -n "$(ns_name h1)" link show udp3
# A tunnel an earlier version let the original client add, named "-x" (issue 15).
python3 -c 'import json,sys; f=sys.argv[1]; s=json.load(open(f)); s["tunnels"].append({"name":"-x","tunnelIP":"10.0.7.1","netmask":"255.255.255.252","mtu":1500,"remoteServer":"192.0.2.97","routes":[]}); json.dump(s,open(f,"w"))' "$T/h1.state"
serve h1
wait_for 5 "restarted h1 restores udp3 from the state file" ip -n "$(ns_name h1)" link show udp3
wait_for 5 "... and the earlier version's tunnel -x" ip -n "$(ns_name h1)" link show dev -x
check "ctl -o del -n -x deletes it (was: unknown option -x)" ctl h1 -s 192.0.2.1 -o del -n -x
check "... the device -x is gone" not ip -n "$(ns_name h1)" link show dev -x
check "... with its route" bash -c "ip -n $(ns_name h1) route show 192.168.3.0/24 | grep -q 'dev udp3'"
check "... and without udp2" not ip -n "$(ns_name h1)" link show udp2
wait_for 5 "ping h1 -> h3 LAN host after the restart" nsx h1 ping -c 1 -W 1 192.168.3.2

for h in h1 h2 h3 h1-k h2-k; do check "daemon $h never logged an error" not grep -q ' ERROR ' "$T/$h.log" 2>/dev/null; done
	# Stop every daemon (their devices and routes go with them) for the next mode.
	for p in "${PID[@]}"; do bg_stop "$p"; done
	PID=()
	rm -f "$T"/*.state "$T"/*.log
}

for mode in offload no-offload refused; do tunnel_checks "$mode"; done
note "took $(($(date +%s) - t0)) s"
finish
