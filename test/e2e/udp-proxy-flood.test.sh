#!/usr/bin/env bash
# shellcheck disable=SC2317 # helpers are invoked through check/wait_for
# test/e2e/udp-proxy-flood.test.sh - one hostile LAN host against udp-proxy (issue
# 15, fault 1), on the udp-proxy lab: three rounds of 10,000 datagrams from 10,000
# source ports, 1000 datagrams of 65,507 bytes, 30,000 of random sizes, while another
# host (10.0.1.3) keeps asking dnsmasq through the proxy:
#   - the other host's session survives (the flooder churns only its own sessions,
#     at most --max-sessions-per-client of them) and its queries keep being answered
#   - RssAnon grows by less than 20 MB at peak, and once the flood is over the daemon
#     gives it back: within 4 MB of its pre-flood value (lib/memory.ts releases
#     after a burst of 4 MiB) within 15 s
#
# Run as root: test/e2e/udp-proxy-flood.test.sh   (UDP_PROXY=EXE: another build; ~40 s)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=test/e2e/lib.sh
. "$here/lib.sh"
need_root
need_cmd ip nft dnsmasq dig python3 setsid
UP=${UDP_PROXY:-$root/dist/udp-proxy-linux-x64}
[ -x "$UP" ] || bail "$UP is missing" "build it: node scripts/build/build.mjs --target linux-x64 udp-proxy"
FLOOD="$here/udp-flood.py"

# shellcheck source=test/lab/udp-proxy.sh
. "$here/../lab/udp-proxy.sh"
udp_topology_up
nsx client ip addr add 10.0.1.3/24 dev c0

SOCK=$LAB_TMP/up.sock
bg_in proxy "$LAB_TMP/up.out" "$UP" --listen 10.0.1.1:5310 --upstream 10.0.2.254:53 --reply-alias 10.0.2.2:53 \
	--idle-timeout 3 --control-socket "$SOCK" --log "$LAB_TMP/up.log"
UP_PID=$LAB_BG_PID
require_wait 10 "udp-proxy is up" nsx proxy "$UP" status --control-socket "$SOCK"
# The other host asks from one source port, every 0.3 s, for the whole test.
legit() { nsx client dig +short +tries=1 +time=1 -b 10.0.1.3#5353 @10.0.1.1 -p 5310 svc.test A; }
require_wait 5 "the other host is answered through the proxy" bash -c "$(declare -f legit nsx ns_name); LAB_PREFIX=$LAB_PREFIX; legit | grep -qx 192.0.2.53"
bg_in client "$LAB_TMP/legit.txt" bash -c "while :; do dig +short +tries=1 +time=1 -b 10.0.1.3#5353 @10.0.1.1 -p 5310 svc.test A || echo timeout; sleep 0.3; done"
sleep 1
session_port() { # the other host's session socket, from status
	nsx proxy "$UP" status --control-socket "$SOCK" --json | python3 -c '
import json, sys
for r in json.load(sys.stdin)["rules"]:
    for s in r["sessions"]:
        if s["client"] == "10.0.1.3:5353": print(s["localPort"])'
}
kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
port0=$(session_port)
anon0=$(kb "$UP_PID" RssAnon)
echo "# before: RssAnon $((anon0 / 1024)) MB, VmRSS $(($(kb "$UP_PID" VmRSS) / 1024)) MB; the other host's session on port $port0"

# Sample RssAnon every 0.2 s during the flood for the peak.
answers() { grep -c '^192.0.2.53$' "$LAB_TMP/legit.txt" || true; }
before_flood=$(answers)
touch "$LAB_TMP/sampling"
( peak=0; while [ -e "$LAB_TMP/sampling" ]; do a=$(kb "$UP_PID" RssAnon); [ "$a" -gt "$peak" ] && peak=$a; echo "$peak" >"$LAB_TMP/peak"; sleep 0.2; done ) &
SAMPLER=$!
for _ in 1 2 3; do nsx client python3 "$FLOOD" ports 10.0.1.2 10.0.1.1 5310 10000 >/dev/null; done
nsx client python3 "$FLOOD" big 10.0.1.2 10.0.1.1 5310 1000 65507 >/dev/null
nsx client python3 "$FLOOD" random 10.0.1.2 10.0.1.1 5310 30000 >/dev/null
sleep 0.5
rm -f "$LAB_TMP/sampling"
wait "$SAMPLER"
peak=$(cat "$LAB_TMP/peak")
check "the daemon survived the flood" bg_alive "$UP_PID"
per_client_bounded() {
	nsx proxy "$UP" status --control-socket "$SOCK" --json | python3 -c '
import json, sys
r = json.load(sys.stdin)["rules"][0]
n = sum(1 for s in r["sessions"] if s["client"].startswith("10.0.1.2:"))
print("flooder sessions:", n, "of", len(r["sessions"]))
sys.exit(0 if n <= r.get("maxSessionsPerClient", 0) else 1)'
}
check "the flooding host holds at most --max-sessions-per-client sessions" per_client_bounded
check "the other host kept its session (same socket) through the flood" bash -c "[ '$(session_port)' = '$port0' ]"
check "the other host was answered during the flood" test "$(answers)" -gt "$before_flood"
after_flood=$(answers)
wait_for 5 "and after it (two more answers)" bash -c "[ \$(grep -c '^192.0.2.53$' '$LAB_TMP/legit.txt') -ge $((after_flood + 2)) ]"
echo "# peak: RssAnon $((peak / 1024)) MB ($(((peak - anon0) / 1024)) MB more)"
check "RssAnon grew by less than 20 MB at peak" test $((peak - anon0)) -lt $((20 * 1024))
flood_gone() { [ "$(nsx proxy "$UP" status --control-socket "$SOCK" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["rules"][0]["sessions"]))')" -le 1 ]; }
wait_for 15 "the flood's sessions expire (idle 3 s)" flood_gone
back() { [ $(($(kb "$UP_PID" RssAnon) - anon0)) -lt $((4 * 1024)) ]; }
wait_for 15 "RssAnon is back within 4 MB of its pre-flood value" back
echo "# after: RssAnon $(($(kb "$UP_PID" RssAnon) / 1024)) MB, VmRSS $(($(kb "$UP_PID" VmRSS) / 1024)) MB"
finish
