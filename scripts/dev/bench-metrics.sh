#!/usr/bin/env bash
# scripts/dev/bench-metrics.sh - what the Prometheus metrics cost (issue 22), in rounds:
#   - a scrape's CPU time in the daemon with udp-proxy holding 4096 sessions and mld-proxy
#     4096 addresses, against the baseline of reading the same counters the old way (a
#     `status --json` query on the control socket), alternating, ROUNDS times; the
#     daemon's main-thread run time from /proc/PID/task/PID/schedstat (nanoseconds);
#   - idle memory (RssAnon, VmRSS) of udp-proxy with metrics on (scraped every second, as
#     by Prometheus) against one with metrics off, and off against the build before the
#     metrics (METRICS_BASELINE_REF, built once into .cache/ by rounds.sh): started together
#     each round, read after they settled (memory.ts settles at 10 s), ROUNDS times.
# The scrapes go to the metrics socket (render + write, what GET /metrics does apart from
# HTTP's parsing), which has no reuse window, so each request renders.
# Lab: namespaces udmb<pid>-m (both daemons, loopback), -h (the LAN host that injects
# NDP) and -w (the upstream's far end); no traffic leaves them.
# Usage (root): scripts/dev/bench-metrics.sh   (env ROUNDS, default 3; N scrapes a round, 200)
set -euo pipefail
cd "$(dirname "$0")/../.."
export LC_ALL=C
LAB_PREFIX=udmb$$-
# shellcheck source=test/lab/lib.sh
. test/lab/lib.sh
# shellcheck source=scripts/dev/bench/table.sh
. scripts/dev/bench/table.sh
# shellcheck source=scripts/dev/bench/rounds.sh
. scripts/dev/bench/rounds.sh
need_root
need_cmd ip node python3 awk
ROUNDS=${ROUNDS:-3}
N=${N:-200}
lab_exe UP udp-proxy
lab_exe MLD mld-proxy
BASELINE_REF=$(git rev-parse --short=7 "${METRICS_BASELINE_REF:-84b98e0^}")
baseline_build OLD_UP udp-proxy

ns_add m
ns_add h
ns_add w
nsx m ip link set lo up
ip link add lan0 netns "$(ns_name m)" type veth peer name eth0 netns "$(ns_name h)"
ip link add wan0 netns "$(ns_name m)" type veth peer name eth0 netns "$(ns_name w)"
for l in "m lan0" "m wan0" "h eth0" "w eth0"; do
	# shellcheck disable=SC2086 # "NS IFACE"
	nsx ${l%% *} ip link set "${l#* }" up
done

# --- the daemons, their tables full
cat >"$LAB_TMP/sessions.py" <<'EOF'
# 4096 clients (one socket, one source port each) send one datagram; a sink upstream.
import resource, socket, sys, time
resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192))
if sys.argv[1] == "sink":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 7007))
    while True: s.recvfrom(2048)
socks = []
for i in range(4096):
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.sendto(b"x", ("127.0.0.1", 5300)); socks.append(c)
    if i % 256 == 255: time.sleep(0.02)
time.sleep(3600)
EOF
bg_in m "$LAB_TMP/sink.out" python3 "$LAB_TMP/sessions.py" sink
daemon_start m up "udp-proxy runs" "$UP" --listen 127.0.0.1:5300 --upstream 127.0.0.1:7007 --idle-timeout 3600 \
	--max-sessions 4096 --max-sessions-per-client 4096 --control-socket "$LAB_TMP/up.sock" --metrics-listen 127.0.0.1:9813 --firewall off
UP_PID=$LAB_BG_PID
bg_in m "$LAB_TMP/clients.out" python3 "$LAB_TMP/sessions.py" clients
daemon_start m mld "mld-proxy runs" "$MLD" --prefix 2001:db8:1::/64 --control-socket "$LAB_TMP/mld.sock" \
	--metrics-listen 127.0.0.1:9811 --firewall off wan0 lan0
MLD_PID=$LAB_BG_PID
require_wait 20 "udp-proxy holds 4096 sessions" sh -c "[ \"\$(ip netns exec $(ns_name m) $UP metrics --control-socket $LAB_TMP/up.sock | awk '/^udp_proxy_sessions\\{/ { print \$NF }')\" = 4096 ]"
mld_addresses() { nsx m "$MLD" metrics --control-socket "$LAB_TMP/mld.sock" | awk '$1 == "mld_proxy_addresses" { print $2 }'; }
# A burst overruns the capture's buffer: inject in rounds until the table is full.
for _ in 1 2 3 4 5 6 7 8; do
	[ "$(mld_addresses)" -lt 4096 ] || break
	nsx h node -r esbuild-register test/e2e/ndp-inject.ts eth0 1500 2001:db8:1:: >/dev/null
	sleep 1
done
require_wait 20 "mld-proxy holds 4096 addresses" sh -c "[ \"\$(ip netns exec $(ns_name m) $MLD metrics --control-socket $LAB_TMP/mld.sock | awk '\$1 == \"mld_proxy_addresses\" { print \$2 }')\" = 4096 ]"

# --- scrape cost: N requests on a socket, the daemon's main-thread CPU time per request
cat >"$LAB_TMP/ask.py" <<'EOF'
import socket, sys
path, n = sys.argv[1], int(sys.argv[2])
for _ in range(n):
    s = socket.socket(socket.AF_UNIX); s.connect(path)
    while s.recv(1 << 20): pass
    s.close()
EOF
run_ns() { awk '{ print $1 }' "/proc/$1/task/$1/schedstat"; }
per_request_us() { # PID SOCKET : µs of the daemon's CPU per request, over N requests
	local a b
	a=$(run_ns "$1")
	nsx m python3 "$LAB_TMP/ask.py" "$2" "$N"
	b=$(run_ns "$1")
	awk -v a="$a" -v b="$b" -v n="$N" 'BEGIN { printf "%.0f", (b - a) / n / 1000 }'
}
for r in $(seq "$ROUNDS"); do
	keep up_scrape "$(per_request_us "$UP_PID" "$LAB_TMP/up.metrics.sock")"
	keep up_status "$(per_request_us "$UP_PID" "$LAB_TMP/up.sock")"
	keep mld_scrape "$(per_request_us "$MLD_PID" "$LAB_TMP/mld.metrics.sock")"
	keep mld_status "$(per_request_us "$MLD_PID" "$LAB_TMP/mld.sock")"
	echo "round $r: udp-proxy scrape $(med up_scrape) µs, status $(med up_status) µs; mld-proxy scrape $(med mld_scrape) µs, status $(med mld_status) µs" >&2
done
up_bytes=$(nsx m "$UP" metrics --control-socket "$LAB_TMP/up.sock" | wc -c)
mld_bytes=$(nsx m "$MLD" metrics --control-socket "$LAB_TMP/mld.sock" | wc -c)
bg_stop "$UP_PID"
bg_stop "$MLD_PID"

# --- idle memory, metrics on (scraped every second) vs off, started together each round
cat >"$LAB_TMP/scraper.py" <<'EOF'
import socket, time
while True:
    try:
        s = socket.create_connection(("127.0.0.1", 9814), timeout=1)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        while s.recv(65536): pass
        s.close()
    except OSError: pass
    time.sleep(1)
EOF
kbs() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
for r in $(seq "$ROUNDS"); do
	bg_in m "$LAB_TMP/on$r.out" "$UP" --listen 127.0.0.1:5401 --upstream 127.0.0.1:7007 --control-socket "$LAB_TMP/on$r.sock" \
		--metrics-listen 127.0.0.1:9814 --firewall off
	on=$LAB_BG_PID
	bg_in m "$LAB_TMP/off$r.out" "$UP" --listen 127.0.0.1:5402 --upstream 127.0.0.1:7007 --control-socket "$LAB_TMP/off$r.sock" --firewall off
	off=$LAB_BG_PID
	bg_in m "$LAB_TMP/before$r.out" "$OLD_UP" --listen 127.0.0.1:5403 --upstream 127.0.0.1:7007 --control-socket "$LAB_TMP/before$r.sock" --firewall off
	before=$LAB_BG_PID
	bg_in m "$LAB_TMP/scraper$r.out" python3 "$LAB_TMP/scraper.py"
	scraper=$LAB_BG_PID
	sleep 20
	keep anon_on "$(awk -v k="$(kbs "$on" RssAnon)" 'BEGIN { printf "%.1f", k / 1024 }')"
	keep anon_off "$(awk -v k="$(kbs "$off" RssAnon)" 'BEGIN { printf "%.1f", k / 1024 }')"
	keep rss_on "$(awk -v k="$(kbs "$on" VmRSS)" 'BEGIN { printf "%.1f", k / 1024 }')"
	keep rss_off "$(awk -v k="$(kbs "$off" VmRSS)" 'BEGIN { printf "%.1f", k / 1024 }')"
	keep anon_before "$(awk -v k="$(kbs "$before" RssAnon)" 'BEGIN { printf "%.1f", k / 1024 }')"
	keep rss_before "$(awk -v k="$(kbs "$before" VmRSS)" 'BEGIN { printf "%.1f", k / 1024 }')"
	bg_stop "$before"
	bg_stop "$scraper"
	bg_stop "$on"
	bg_stop "$off"
	echo "round $r: RssAnon on $(med anon_on) MB, off $(med anon_off) MB, before the metrics $(med anon_before) MB" >&2
done

# Goals: a scrape costs at most half a status query (which Prometheus users would otherwise
# script); on costs at most 2 MB of RssAnon; off costs nothing against the build before
# (RssAnon: VmRSS moves with the executable's pages in the page cache, reported only).
row_rounds "udp-proxy, 4096 sessions: CPU per scrape vs per status query" up_scrape up_status µs "x<=0.5"
row_rounds "mld-proxy, 4096 addresses: CPU per scrape vs per status query" mld_scrape mld_status µs "x<=0.5"
row "exposition size: udp-proxy / mld-proxy" "$up_bytes" "$mld_bytes" bytes -
row_rounds "udp-proxy idle RssAnon: metrics on (scraped 1/s) vs off" anon_on anon_off MB -
row "  the difference of the medians" "$(awk -v a="$(med anon_on)" -v b="$(med anon_off)" 'BEGIN { printf "%.1f", a - b }')" - MB "<2"
row_rounds "udp-proxy idle VmRSS: metrics on (scraped 1/s) vs off" rss_on rss_off MB -
row_rounds "udp-proxy idle RssAnon: metrics off vs the build before them" anon_off anon_before MB "x<=1.05"
row_rounds "udp-proxy idle VmRSS: metrics off vs the build before them" rss_off rss_before MB -
echo
print_table
