#!/usr/bin/env bash
# shellcheck disable=SC2317 # helpers are invoked through check/wait_for
# test/e2e/udp-tunnel-flood.test.sh - oversized datagrams against udp-tunnel (issue 15,
# fault 6), on the udp-tunnel lab: h1 runs a keyless and a keyed daemon, each with a
# tunnel to h2; mallory (a stranger) and h2 itself (a known peer, with junk) send 500
# datagrams of 65,507 bytes to each data port. A datagram from an unknown source or
# larger than the tunnel carries must cost no memory beyond the daemon's receive
# buffer: RssAnon may grow by at most 8 MB (the receive slots, 4 MiB, touched), and the
# tunnels still carry a ping afterwards; the oversized ones are counted.
#
# Run as root: test/e2e/udp-tunnel-flood.test.sh   (UDP_TUNNEL=EXE: another build; ~20 s)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=test/e2e/lib.sh
. "$here/lib.sh"
need_root
need_cmd ip python3 ping setsid
UT=${UDP_TUNNEL:-$root/dist/udp-tunnel-linux-x64}
[ -x "$UT" ] || bail "$UT is missing" "build it: node scripts/build/build.mjs --target linux-x64 udp-tunnel"
FLOOD="$here/udp-flood.py"

# shellcheck source=test/lab/udp-tunnel.sh
. "$here/../lab/udp-tunnel.sh"
tunnel_underlay_up
tunnel_underlay_add h1 192.0.2.1
tunnel_underlay_add h2 192.0.2.2
tunnel_underlay_add mallory 192.0.2.66
head -c 32 /dev/urandom | base64 >"$LAB_TMP/key"

declare -A PID=()
for kind in plain keyed; do
	for h in h1 h2; do
		extra=() port=5000
		[ "$kind" = plain ] || { extra=(--key-file "$LAB_TMP/key"); port=5100; }
		bg_in "$h" "$LAB_TMP/$h-$kind.out" "$UT" serve -dp "$port" -cp $((port + 1)) --control-socket "$LAB_TMP/$h-$kind.sock" --log "$LAB_TMP/$h-$kind.log" "${extra[@]}"
		PID[$h-$kind]=$LAB_BG_PID
		require_wait 10 "$h: $kind daemon up" nsx "$h" "$UT" status --control-socket "$LAB_TMP/$h-$kind.sock"
	done
	net=$([ "$kind" = plain ] && echo 8 || echo 9)
	nsx h1 "$UT" ctl -s 127.0.0.1 -p $(( $([ "$kind" = plain ] && echo 5000 || echo 5100) + 1 )) -o add -n "t$kind" -t "10.$net.0.1" -m 24 -r 192.0.2.2 >/dev/null
	nsx h2 "$UT" ctl -s 127.0.0.1 -p $(( $([ "$kind" = plain ] && echo 5000 || echo 5100) + 1 )) -o add -n "t$kind" -t "10.$net.0.2" -m 24 -r 192.0.2.1 >/dev/null
	require_wait 5 "$kind tunnel carries a ping" nsx h1 ping -c 1 -W 1 "10.$net.0.2"
done

kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
drops() { # KIND: the h1 daemon's JSON status
	nsx h1 "$UT" status --control-socket "$LAB_TMP/h1-$1.sock" --json
}
for kind in plain keyed; do
	pid=${PID[h1-$kind]}
	port=$([ "$kind" = plain ] && echo 5000 || echo 5100)
	anon0=$(kb "$pid" RssAnon)
	nsx mallory python3 "$FLOOD" big 192.0.2.66 192.0.2.1 "$port" 500 65507 >/dev/null
	nsx h2 python3 "$FLOOD" big 192.0.2.2 192.0.2.1 "$port" 500 65507 >/dev/null
	sleep 1
	anon1=$(kb "$pid" RssAnon)
	echo "# $kind: RssAnon $((anon0 / 1024)) -> $((anon1 / 1024)) MB (VmRSS $(($(kb "$pid" VmRSS) / 1024)) MB)"
	check "$kind: the daemon survived 1000 datagrams of 65,507 bytes" bg_alive "$pid"
	check "$kind: RssAnon grew by at most 8 MB (the receive slots)" test $((anon1 - anon0)) -le $((8 * 1024))
	net=$([ "$kind" = plain ] && echo 8 || echo 9)
	wait_for 5 "$kind: the tunnel still carries a ping" nsx h1 ping -c 1 -W 1 "10.$net.0.2"
	counted() { drops "$1" | python3 -c '
import json, sys
s = json.load(sys.stdin); t = s["tunnels"][0]
d = t["drops"]
bad = d.get("oversized", 0) + d.get("forged", 0) + d.get("malformed", 0)
print("unknownSource", s["unknownSource"], "drops", d)
sys.exit(0 if s["unknownSource"] >= 100 and bad >= 100 else 1)'; }
	# Most of each burst overflows the kernel's socket queue (64 KB datagrams); what arrives is counted.
	check "$kind: the stranger's datagrams and the peer's oversized ones are counted" counted "$kind"
	# Once the flood is over the daemon gives the slots' pages and the rest back (lib/memory.ts).
	back() { [ $(($(kb "$pid" RssAnon) - anon0)) -lt $((4 * 1024)) ]; }
	wait_for 10 "$kind: and gives it back: RssAnon within 4 MB of its pre-flood value" back
	echo "# $kind: RssAnon $((anon0 / 1024)) -> $(($(kb "$pid" RssAnon) / 1024)) MB after"
done
finish
