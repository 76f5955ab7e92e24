#!/usr/bin/env bash
# shellcheck disable=SC2317 # helpers are invoked through check/wait_for
# test/e2e/udp-proxy.test.sh - the real udp-proxy executable between a client and a
# DNS service (dnsmasq) that receives on a VIP and answers from its real address:
#
#   client 10.0.1.2 fd00:1::2 --- 10.0.1.1 fd00:1::1  proxy  10.0.2.1 fd00:2::1 --- service
#                                                      VIP 10.0.2.254 fd00:2::254 (dnsmasq)
#                                                      real 10.0.2.2 fd00:2::2 (replies: nft SNAT)
#                                                      other 10.0.2.3 (a foreign source)
#
#   a. dig through the proxy: no answer without the alias, the answer with it (IPv4,
#      IPv6, and an IPv6 client to an IPv4 service through a dual-stack listener);
#      status counts the replies per alias and the dropped foreign ones
#   b. datagrams to a session's socket from a foreign address or port never reach the
#      client; one from the upstream does; an ICMP port unreachable is counted
#   c. a client outside the allow-list gets no session
#   d. the session bound evicts the least recently used; idle sessions expire
#   e. SIGHUP: unchanged rules keep their sessions, a changed one starts afresh; a bad
#      file is refused and the running rules stay; SIGTERM stops cleanly
#   f. bad flags are refused naming the flag
#
# a-e run three times: batched (the default), with --no-offload ("offload": false),
# and with the kernel refusing recvmmsg/sendmmsg (the old-kernel stand-in), where
# the daemon must say so once and fall back to one datagram per call.
#
# Run as root: test/e2e/udp-proxy.test.sh   (needs dist/udp-proxy-linux-x64; ~30 s)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=test/e2e/lib.sh
. "$here/lib.sh"
need_root
need_cmd ip nft dnsmasq dig python3 node setsid
t0=$(date +%s)

UP="$root/dist/udp-proxy-linux-x64"
if [ ! -x "$UP" ]; then
	bail "$UP is missing" "build it: node scripts/build/build.mjs --target linux-x64 udp-proxy"
fi

# ------------------------------------------------------------------ topology
# shellcheck source=test/lab/udp-proxy.sh
. "$here/../lab/udp-proxy.sh"
udp_topology_up

# The SNAT really happens: from the proxy host, asking the VIP directly gets a reply
# from 10.0.2.2, which dig rejects.
# (dig's connected socket would just not hear it; an unconnected one shows who answers.)
direct_from_real() {
	local from
	from=$(nsx proxy python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
q = bytes.fromhex("123401000001000000000000") + b"\x03svc\x04test\x00" + bytes.fromhex("00010001")
s.sendto(q, ("10.0.2.254", 53))
print(s.recvfrom(512)[1][0])')
	[ "$from" = 10.0.2.2 ] || { echo "answered from: $from"; return 1; }
}
check "asked directly on the VIP, the service answers from its real address" direct_from_real

# ------------------------------------------------------------------ udp-proxy
CONF="$LAB_TMP/udp-proxy.json"
SOCK="$LAB_TMP/udp-proxy.sock"
write_config() { # BOUNDED_MAX
	cat >"$CONF" <<EOF
{
  "proxy": [
    { "name": "noalias", "listen": "10.0.1.1:5301", "upstream": "10.0.2.254:53" },
    { "name": "alias",   "listen": "10.0.1.1:5302", "upstream": "10.0.2.254:53", "reply-addr-alias": ["10.0.2.2:53"] },
    { "name": "alias6",  "listen": "[fd00:1::1]:5303", "upstream": "[fd00:2::254]:53", "replyAlias": ["fd00:2::2"] },
    { "name": "dual",    "listen": "5304", "upstream": "10.0.2.254:53", "replyAlias": ["10.0.2.2:53"] },
    { "name": "bounded", "listen": "10.0.1.1:5305", "upstream": "10.0.2.254:53", "replyAlias": ["10.0.2.2:53"],
      "maxSessions": $1, "idleTimeout": 3 },
    { "name": "raw",     "listen": "10.0.1.1:5306", "upstream": "10.0.2.254:9000", "replyAlias": ["10.0.2.99"] },
    { "name": "closed",  "listen": "10.0.1.1:5308", "upstream": "10.0.2.2:9999" },
    { "name": "allow",   "listen": "10.0.1.1:5307", "upstream": "10.0.2.254:53", "replyAlias": ["10.0.2.2:53"],
      "allow": ["10.9.0.0/16", "fd09::/16"] }
  ],
  "offload": $OFFLOAD,
  "log": "$LAB_TMP/udp-proxy.log",
  "logLevel": "debug",
  "pidFile": "$LAB_TMP/udp-proxy.pid",
  "controlSocket": "$SOCK"
}
EOF
}
proxy_checks() { # MODE: offload | no-offload | refused
	local mode=$1 standin=()
	OFFLOAD=true
	case $mode in
	no-offload) OFFLOAD=false ;;
	refused) standin=(env UDM_PROXIES_TEST_KERNEL_REFUSES=batching) ;;
	esac
	echo "# ---------------- data path: $mode"
	rm -f "$LAB_TMP/udp-proxy.log"
write_config 2
up_status() { nsx proxy "$UP" status --control-socket "$SOCK" "$@"; }
# st JS-EXPRESSION : true if it holds for the status JSON; r(NAME) is that rule.
st() {
	local json
	json=$(up_status --json) || return 1
	printf '%s' "$json" | node -e '
const s = JSON.parse(require("fs").readFileSync(0, "utf8"));
const r = (n) => s.rules.find((x) => x.name === n);
if (!eval(process.argv[1])) { for (const x of s.rules) console.log(JSON.stringify({ ...x, sessions: x.sessions.slice(0, 4) })); process.exit(1); }' "$1"
}
up_log_has() { grep -qF -- "$1" "$LAB_TMP/udp-proxy.log"; }
# qdig SERVER PORT [TYPE] : one query through the proxy, prints the answer (empty on timeout)
qdig() { nsx client dig +short +tries=1 +time=2 @"$1" -p "$2" svc.test "${3:-A}" 2>&1 | grep -v '^;;' || true; }
answer_is() { [ "$(qdig "$1" "$2" "${4:-A}")" = "$3" ]; }

bg_in proxy "$LAB_TMP/udp-proxy.out" "${standin[@]}" "$UP" --config "$CONF"
UP_PID=$LAB_BG_PID
require_wait 10 "udp-proxy is up (status answers)" up_status
check "the log names each rule and where it listens" up_log_has "alias: listening on 10.0.1.1:5302 -> 10.0.2.254:53, replies also from 10.0.2.2:53"
second_refused() {
	local out rc=0
	out=$(nsx proxy "$UP" --config "$CONF" --control-socket "$LAB_TMP/second.sock" 2>&1) || rc=$?
	if [ "$rc" -ne 1 ] || ! printf '%s' "$out" | grep -q "udp-proxy is already running as PID $UP_PID"; then
		echo "exit $rc: $out"
		return 1
	fi
}
check "a second copy with the same pid file is refused" second_refused

echo "# a. dig through the proxy, with and without the alias"
check "a1: without the alias the answer does not arrive" answer_is 10.0.1.1 5301 ""
check "a1: ... status: a session, nothing back (its connected socket never hears 10.0.2.2)" \
	st 'r("noalias").sessions.length === 1 && r("noalias").counters.toClient.packets === 0 && r("noalias").replies[0] === 0'
check "a2: with reply-addr-alias 10.0.2.2:53 the answer arrives" answer_is 10.0.1.1 5302 192.0.2.53
check "a2: ... counted as a reply from the alias, none from the VIP" st 'r("alias").replies[1] >= 1 && r("alias").replies[0] === 0 && r("alias").counters.drops.foreignSource === 0'
check "a3: IPv6: the answer arrives with the alias fd00:2::2 (any port)" answer_is fd00:1::1 5303 2001:db8::53 AAAA
check "a3: ... counted for the IPv6 alias" st 'r("alias6").replies[1] >= 1 && r("alias6").aliases[0] === "[fd00:2::2]"'
check "a4: a dual-stack listener serves an IPv4 client" answer_is 10.0.1.1 5304 192.0.2.53
check "a4: ... and an IPv6 client of the same IPv4 service" answer_is fd00:1::1 5304 192.0.2.53
status_says() { up_status | grep -qF -- "$1" || { up_status; return 1; }; }
check "a5: status shows the rules in words" status_says "replies from:  10.0.2.254:53 0, 10.0.2.2:53 1"
	case $mode in
	offload) check "batched: status says so" status_says "data path: batched, up to 64 datagrams per system call (recvmmsg/sendmmsg)" ;;
	no-offload) check "--no-offload: status says one datagram per system call" status_says "data path: one datagram per system call (--no-offload)" ;;
	refused)
		check "refused: the log warns once" bash -c "[ \$(grep -c 'the kernel refused recvmmsg/sendmmsg (EINVAL): moving one datagram per system call' '$LAB_TMP/udp-proxy.log') = 1 ]"
		check "refused: status shows the fallback and why" status_says "data path: one datagram per system call (the kernel refused: EINVAL)"
		;;
	esac

echo "# b. datagrams from a foreign source never reach the client"
# The service gets a datagram on the VIP, then answers from elsewhere first, then as itself.
# Each pass has files of its own: "ready" must be this pass's helper's.
SVC_B_OUT="$LAB_TMP/svc-b-$mode.txt" CLIENT_B_OUT="$LAB_TMP/client-b-$mode.txt"
bg_in svc "$SVC_B_OUT" python3 -u -c '
import socket, time
def sock(a, p):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((a, p)); return s
vip, other, port = sock("10.0.2.254", 9000), sock("10.0.2.3", 9000), sock("10.0.2.254", 9001)
print("ready")
data, peer = vip.recvfrom(100)
other.sendto(b"injected-other-address", peer)
port.sendto(b"injected-other-port", peer)
time.sleep(0.3)
vip.sendto(b"reply-from-upstream", peer)
print("sent")'
SVC_B=$LAB_BG_PID
svc_ready() { grep -q '^ready$' "$SVC_B_OUT"; }
require_wait 5 "b0: the service helper listens on the VIP" svc_ready
# The client sends one datagram and prints everything that comes back within 2 s.
nsx client python3 -u -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.0.1.2", 40001)); s.settimeout(2)
s.sendto(b"hello", ("10.0.1.1", 5306))
try:
    while True: print(s.recv(100).decode())
except socket.timeout: print("done")' >"$CLIENT_B_OUT" 2>&1 || true
bg_stop "$SVC_B"
check "b1: only the upstream's own reply reached the client" \
	bash -c "[ \"\$(grep -v '^done$' '$CLIENT_B_OUT')\" = reply-from-upstream ] || { cat '$CLIENT_B_OUT'; exit 1; }"
check "b2: status counts both foreign datagrams on the session" \
	st 'r("raw").counters.drops.foreignSource === 2 && r("raw").sessions[0].foreign === 2 && r("raw").sessions[0].client === "10.0.1.2:40001"'

echo "# b3. ICMP errors are counted on the session, the proxy goes on"
check "b3: a query to a closed port gets no answer" answer_is 10.0.1.1 5308 ""
check "b3: the port unreachable is counted on the session (ECONNREFUSED)" \
	st 'r("closed").sessions[0].socketErrors + r("closed").sessions[0].sendErrors >= 1 && r("closed").sessions[0].lastError === "ECONNREFUSED"'
check "b3: and the proxy still answers on other rules" answer_is 10.0.1.1 5302 192.0.2.53

echo "# c. the allow-list"
check "c1: a client outside the allow-list gets no answer" answer_is 10.0.1.1 5307 ""
check "c1: ... and no session; counted as not allowed" st 'r("allow").counters.drops.notAllowed >= 1 && r("allow").sessions.length === 0 && r("allow").counters.sessionsOpened === 0'

echo "# d. session bound and idle expiry"
for i in 1 2 3; do qdig 10.0.1.1 5305 >"$LAB_TMP/bounded-$i.txt"; done
check "d1: three clients, all answered" bash -c "cat '$LAB_TMP'/bounded-*.txt | grep -c 192.0.2.53 | grep -qx 3"
check "d1: status: 2 sessions (maxSessions 2), 1 evicted" st 'r("bounded").sessions.length === 2 && r("bounded").counters.sessionsEvicted === 1 && r("bounded").counters.sessionsOpened === 3'
check "d1: status in words shows the bound" status_says "sessions:      2 of at most 2 (2 per client), closed after 3s idle; 3 opened, 0 expired, 1 evicted"
wait_for 8 "d2: after 3 s idle the sessions expire" st 'r("bounded").sessions.length === 0 && r("bounded").counters.sessionsExpired === 2'

echo "# e. SIGHUP reload"
qdig 10.0.1.1 5305 >/dev/null
check "e0: sessions exist on 'alias' and 'bounded'" st 'r("alias").sessions.length >= 1 && r("bounded").sessions.length === 1'
before=$(up_status --json | node -e 'const s=JSON.parse(require("fs").readFileSync(0,"utf8")); console.log(JSON.stringify(s.rules.find((r) => r.name === "alias").sessions.map((x) => [x.client, x.localPort])))')
write_config 5
kill -HUP "$UP_PID"
wait_for 5 "e1: reload applied: 'bounded' now allows 5 sessions" st 'r("bounded").maxSessions === 5'
check "e1: the changed rule started afresh" st 'r("bounded").sessions.length === 0 && r("bounded").counters.sessionsOpened === 0'
check "e1: the unchanged rule kept its sessions, sockets and counters" \
	st "JSON.stringify(r('alias').sessions.map((x) => [x.client, x.localPort])) === '$before' && r('alias').replies[1] >= 1"
check "e1: the log says which rules were kept" up_log_has "rules: 7 unchanged (sessions kept), 1 new or changed, 1 closed"
check "e1: the changed rule answers again" answer_is 10.0.1.1 5305 192.0.2.53
echo '{ "proxy": [ { "listen": "5301" } ] }' >"$CONF"
kill -HUP "$UP_PID"
wait_for 5 "e2: a bad file is refused: 'reload failed, keeping the running configuration'" up_log_has "reload failed, keeping the running configuration: proxy[0].upstream: missing"
check "e2: the running rules stay" st 's.rules.length === 8 && r("alias").sessions.length >= 1'
check "e2: and still answer" answer_is 10.0.1.1 5302 192.0.2.53
if [ "$mode" = offload ]; then
	# lib/exe-pages.ts: 10 s after its start the daemon unmaps its executable's start-up
	# pages; code it needs again comes back from the file.
	wait_for 15 "e4: settled after its start: the executable's start-up pages unmapped" st 's.memory.unmappedBytes > 4 * 1048576'
	check "e4: the log says how much" up_log_has "of the executable's start-up pages unmapped"
	check "e4: and answers after that" answer_is 10.0.1.1 5302 192.0.2.53
fi
up_running() { [ -d "/proc/$UP_PID" ] && ! grep -q '^State:.*Z' "/proc/$UP_PID/status" 2>/dev/null; }
kill -TERM "$UP_PID"
wait_for 5 "e3: exits on SIGTERM" not up_running
check "e3: logged 'stopped', removed its pid file and socket" \
	bash -c "grep -q stopped '$LAB_TMP/udp-proxy.log' && [ ! -e '$LAB_TMP/udp-proxy.pid' ] && [ ! -e '$SOCK' ]"
check "e3: no per-packet log lines (debug level: one per session at most)" \
	bash -c "[ \$(wc -l <'$LAB_TMP/udp-proxy.log') -lt 60 ]"
bg_stop "$UP_PID"
}

for mode in offload no-offload refused; do proxy_checks "$mode"; done

echo "# f. flags"
upx() { nsx proxy "$UP" --control-socket "$LAB_TMP/f.sock" "$@" 2>&1; }
refused() { # EXPECTED ARGS...
	local want=$1 out rc=0
	shift
	out=$(upx "$@") || rc=$?
	if [ "$rc" -ne 2 ] || ! printf '%s' "$out" | grep -qF -- "$want"; then
		echo "exit $rc: $out"
		return 1
	fi
}
check "f1: --upstream without a port" refused "ERROR: --upstream: \"10.0.2.254\": missing port" --listen 53 --upstream 10.0.2.254
check "f1: an IPv6 alias for an IPv4 upstream" refused "--reply-alias: \"fd00::1\" is IPv6 but the upstream is IPv4" --listen 53 --upstream 10.0.2.254:53 --reply-alias fd00::1
check "f1: --idle-timeout 0" refused "--idle-timeout: 0 is out of range" --listen 53 --upstream 10.0.2.254:53 --idle-timeout 0
check "f1: rule flags and --config together" refused "give one rule with flags, or rules in the config file" --listen 53 --config "$CONF"
check "f1: nothing to do" refused "proxy: missing" --log-level info
port_in_use() { # a socket holds the port while udp-proxy tries it
	local out
	out=$(nsx proxy python3 -c '
import socket, subprocess, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("10.0.1.1", 5399))
r = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(r.returncode, r.stderr)' "$UP" --listen 10.0.1.1:5399 --upstream 10.0.2.254:53 --control-socket "$LAB_TMP/f2.sock")
	printf '%s' "$out" | grep -q '^1 ERROR: cannot listen on 10.0.1.1:5399: EADDRINUSE' || { echo "$out"; return 1; }
}
check "f2: a port in use is a clear runtime error (exit 1)" port_in_use

echo "# $(($(date +%s) - t0))s"
finish
