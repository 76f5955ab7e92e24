#!/usr/bin/env bash
# shellcheck disable=SC2317 # helpers are invoked through check/wait_for
# test/lab/vm/guest/memory.sh [VARIANT...] - inside the arm64 guest: the memory of
# each proxy's arm64 executable, for make bench. One line per figure:
#
#   MEM <proxy> <case> <variant> VmRSS=<kB> RssAnon=<kB> RssFile=<kB> VmHWM=<kB> threads=<n>
#
# Cases: idle (started, its interfaces there, nothing to do, after 20 s), and for
# mld-proxy and udp-proxy a loaded table: 4096 learned addresses (restored from a
# state file, their groups joined) and 4096 sessions (4096 client ports). Each start
# is from a cold page cache (the executable's pages are RssFile, as after a boot), and
# each daemon runs as installed: with one malloc arena (MALLOC_ARENA_MAX=1), as its
# on-boot script starts it; an environment variant replaces that.
# The baseline: Node itself (the SEA base, from the release disk's extra/node), idle.
# Without arguments the build is measured once. With them, each is a variant,
# measured in turn, three rounds: "-" (the build), environment assignments
# ("NODE_OPTIONS=--max-semi-space-size=1 MALLOC_ARENA_MAX=2"), or "dir=NAME" (other
# executables, from the release disk's extra/NAME/). "rounds=N" and "settle=SECONDS"
# change those.
set -euo pipefail
cd /mnt/repo
. test/e2e/lib.sh
need_root
REL=${UDMVM_RELEASE:-/mnt/release}
SETTLE=20
ROUNDS=
variants=()
for a in "$@"; do
	case $a in
	rounds=*) ROUNDS=${a#rounds=} ;;
	settle=*) SETTLE=${a#settle=} ;;
	*) variants+=("$a") ;;
	esac
done
[ "${#variants[@]}" -gt 0 ] || variants=(-)
if [ -z "$ROUNDS" ]; then
	ROUNDS=1
	[ "${#variants[@]}" -eq 1 ] || ROUNDS=3
fi
for m in veth bridge; do modprobe "$m"; done
T=$LAB_TMP

# The lab: eth9 (WAN, a veth to isp0) with a global address; br0 (LAN) with a port.
ns_add m
nsx m ip link add eth9 type veth peer name isp0
nsx m ip link add name br0 type bridge
nsx m ip link add p0 type veth peer name h0
nsx m ip link set p0 master br0
for i in eth9 isp0 br0 p0 h0; do nsx m ip link set "$i" up; done
nsx m ip -6 addr add 2001:db8:1::ff:fe00:9/64 dev eth9 nodad
nsx m ip addr add 10.0.0.1/24 dev br0
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/key"
# 4096 addresses in eth9's prefix, learned on br0 a minute ago.
python3 - "$T/state.json" <<'EOF'
import json, sys, time
now = int(time.time() * 1000) - 60000
entries = [{"address": "2001:db8:1::10:%x" % i, "interface": "br0", "lastSeen": now} for i in range(4096)]
json.dump({"version": 1, "savedAt": now, "entries": entries}, open(sys.argv[1], "w"))
EOF
# A UDP sink for udp-proxy's upstream, and a client that opens 4096 sessions.
bg_in m "$T/sink.out" python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 5399))
while True: s.recv(2048)'
# Paced: a burst would overflow the proxy's receive buffer on the emulated CPU.
cat >"$T/sessions.py" <<'EOF'
import socket, time
for i in range(4096):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"x" * 64, ("127.0.0.1", 5302))
    s.close()
    if i % 32 == 31: time.sleep(0.05)
EOF

args() { # PROXY CASE
	case $1:$2 in
	mld-proxy:idle) echo "eth9 br0" ;;
	mld-proxy:loaded) echo "--state $T/state.json --max-addresses 4096 eth9 br0" ;;
	ssdp-proxy:idle) echo "--lan br0 --peer 10.0.0.2 --key-file $T/key" ;;
	udp-proxy:metrics) echo "--listen 127.0.0.1:5302 --upstream 127.0.0.1:5399 --metrics-listen 127.0.0.1:9813" ;;
	udp-proxy:*) echo "--listen 127.0.0.1:5302 --upstream 127.0.0.1:5399 --max-sessions 4096 --max-sessions-per-client 4096 --idle-timeout 600" ;;
	udp-tunnel:idle) echo "serve -dp 5000 -cp 5001" ;;
	esac
}
# entries PROXY: how many addresses (mld-proxy) or sessions (udp-proxy) its table holds.
entries() {
	nsx m "$REL/$1-linux-arm64" status --control-socket "$T/$1.sock" 2>/dev/null |
		sed -nE 's/^ *(addresses|sessions): +([0-9]+) of.*/\2/p' | head -n 1
}
full() { [ "$(entries "$1")" -ge 4096 ] 2>/dev/null; }

# report WHAT VARIANT PID [EXTRA]: the MEM line.
report() {
	echo "MEM $1 ${2// /,} ${4:+$4 }$(awk '$1 ~ /^(VmRSS|RssAnon|RssFile|VmHWM):$/ { printf "%s=%s ", substr($1, 1, length($1) - 1), $2 }' "/proc/$3/status")threads=$(find "/proc/$3/task" -mindepth 1 -maxdepth 1 | wc -l)"
}

cold() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

measure() { # PROXY CASE VARIANT
	local p=$1 c=$2 o=$3 exe envs bg pid n=0
	exe=$REL/$p-linux-arm64
	# As installed: the on-boot script (on_boot.d/10-proxy.sh.in) runs each daemon with
	# one malloc arena; an environment variant replaces that.
	envs=(MALLOC_ARENA_MAX=1)
	case $o in
	-) ;;
	dir=*) exe=$REL/extra/${o#dir=}/$p-linux-arm64 ;;
	*) read -r -a envs <<<"$o" ;;
	esac
	cold
	# shellcheck disable=SC2046 # words of args
	bg_in m "$T/$p.out" env "${envs[@]}" "$exe" --log "$T/$p.log" --control-socket "$T/$p.sock" \
		--pid-file "$T/$p.pid" $(args "$p" "$c")
	bg=$LAB_BG_PID
	until nsx m "$exe" status --control-socket "$T/$p.sock" >/dev/null 2>&1; do
		n=$((n + 1))
		[ "$n" -lt 150 ] || { fail "$p ($c, $o) answers within 30 s" "$(tail -n 5 "$T/$p.out" "$T/$p.log")"; bg_stop "$bg"; return 0; }
		sleep 0.2
	done
	if [ "$p:$c" = udp-proxy:loaded ]; then nsx m python3 "$T/sessions.py"; fi
	# Metrics on: idle, scraped a few times as by Prometheus (issue 22).
	if [ "$c" = metrics ]; then for _ in 1 2 3; do nsx m python3 -c 'import urllib.request as u; u.urlopen("http://127.0.0.1:9813/metrics").read()'; sleep 1; done; fi
	# The table as full as it got within 60 s (the MEM line says how full).
	if [ "$c" = loaded ]; then poll 60 full "$p" || true; fi
	sleep "$SETTLE"
	pid=$(cat "$T/$p.pid")
	report "$p $c" "$o" "$pid" "$([ "$c" != loaded ] || echo "entries=$(entries "$p")")"
	ok "$p $c measured ($o)"
	bg_stop "$bg"
}

if [ -x "$REL/extra/node" ]; then
	cold
	bg_in m "$T/node.out" "$REL/extra/node" -e 'setInterval(() => {}, 1 << 30)'
	sleep "$SETTLE"
	report "node idle" - "$LAB_BG_PID"
	bg_stop "$LAB_BG_PID"
fi

for r in $(seq 1 "$ROUNDS"); do
	for o in "${variants[@]}"; do
		for p in mld-proxy ssdp-proxy udp-proxy udp-tunnel; do measure "$p" idle "$o"; done
		measure mld-proxy loaded "$o"
		measure udp-proxy loaded "$o"
		measure udp-proxy metrics "$o"
	done
	echo "# round $r done"
done
finish
