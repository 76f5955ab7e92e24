#!/usr/bin/env bash
# Benchmarks udp-proxy against the direct (kernel-routed) path and against nginx's
# stream UDP proxy, in the udp-proxy lab (test/lab/udp-proxy.sh) in network namespaces
# this script creates and removes; no traffic leaves them. Every figure comes with its
# baselines measured in the same run and the ratios; one table at the end
# (scripts/bench/table.sh). Goals are reported
# (ok / MISSED), never asserted: the exit status is non-zero only when the bench
# cannot run.
#
# Usage: scripts/bench-udp-proxy.sh   (as root; needs dist/udp-proxy-linux-x64, cc,
#        nginx with libnginx-mod-stream; about a minute)
#
#   client  10.0.1.2 --veth-- 10.0.1.1  proxy  10.0.2.1 --veth-- 10.0.2.2  svc
#   proxy forwards (the direct path) and runs udp-proxy or nginx (the proxied paths).
#   The proxy runs alone on the last CPU, load and service on the others.
#
# Measures (UDPB_SECONDS each, default 5):
#   request/response: UDPB_CLIENTS (32) client sockets, one 64-byte request in flight
#                     each, against an echo server; requests per second. For udp-proxy
#                     twice: a rule without aliases (its upstream sockets are connected)
#                     and one with an alias (unconnected sockets, source checked per datagram).
#   bulk one way:     1200-byte datagrams as fast as one sender can, into a sink;
#                     Mbit/s that arrive.
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C

SECONDS_EACH=${UDPB_SECONDS:-5}
CLIENTS=${UDPB_CLIENTS:-32}
UP=${BENCH_UDP_PROXY:-dist/udp-proxy-linux-x64}

LAB_PREFIX=udpb$$-
# shellcheck source=test/lab/lib.sh
. test/lab/lib.sh
# shellcheck source=test/lab/udp-proxy.sh
. test/lab/udp-proxy.sh
# shellcheck source=scripts/bench/table.sh
. scripts/bench/table.sh

need_root
need_cmd ip cc nginx taskset awk nproc
NGINX_STREAM=/usr/lib/nginx/modules/ngx_stream_module.so
[ -f "$NGINX_STREAM" ] || die "$NGINX_STREAM is missing; install it: apt-get install libnginx-mod-stream"
[ -x "$UP" ] || die "$UP is missing; run: node scripts/build.mjs --target linux-x64 udp-proxy"

# Every process runs pinned: bg_in NS LOG taskset -c CPUS CMD... (taskset execs CMD, so
# LAB_BG_PID stays its pid).

# ------------------------------------------------------------ tools and lab
cc -O2 -Wall -o "$LAB_TMP/udpbench" scripts/bench/udpbench.c || die "cannot compile scripts/bench/udpbench.c"
B="$LAB_TMP/udpbench"

ncpu=$(nproc)
if [ "$ncpu" -ge 2 ]; then
	PROXY_CPU=$((ncpu - 1))
	LOAD_CPUS="0-$((ncpu - 2))"
else
	PROXY_CPU=0 LOAD_CPUS=0
fi

udp_links_up
udp_route_direct
for n in client proxy svc; do
	# Room for bursts; the same for every path.
	nsx "$n" sysctl -qw net.core.rmem_max=8388608 net.core.wmem_max=8388608 2>/dev/null || true
done

bg_in svc "$LAB_TMP/echo.log" taskset -c "$LOAD_CPUS" "$B" echo 10.0.2.2 7000

cat >"$LAB_TMP/udp-proxy.json" <<EOF
{ "proxy": [
    { "name": "rr",   "listen": "10.0.1.1:6001", "upstream": "10.0.2.2:7000" },
    { "name": "rr-alias", "listen": "10.0.1.1:6003", "upstream": "10.0.2.2:7000", "replyAlias": ["10.0.2.3"] },
    { "name": "bulk", "listen": "10.0.1.1:6011", "upstream": "10.0.2.2:7001" } ],
  "controlSocket": "$LAB_TMP/udp-proxy.sock", "log": "$LAB_TMP/udp-proxy.log" }
EOF
cat >"$LAB_TMP/nginx.conf" <<EOF
load_module $NGINX_STREAM;
worker_processes 1;
pid $LAB_TMP/nginx.pid;
error_log $LAB_TMP/nginx-error.log warn;
events { worker_connections 8192; }
stream {
    server { listen 10.0.1.1:6002 udp; proxy_pass 10.0.2.2:7000; proxy_timeout 60s; }
    server { listen 10.0.1.1:6012 udp; proxy_pass 10.0.2.2:7001; proxy_responses 0; proxy_timeout 60s; }
}
EOF

start_udp_proxy() {
	bg_in proxy "$LAB_TMP/udp-proxy.out" taskset -c "$PROXY_CPU" "$UP" --config "$LAB_TMP/udp-proxy.json"
	PROXY_PID=$LAB_BG_PID
	poll 5 nsx proxy "$UP" status --control-socket "$LAB_TMP/udp-proxy.sock" ||
		die "udp-proxy did not start: $(cat "$LAB_TMP/udp-proxy.out")"
}
start_nginx() {
	bg_in proxy "$LAB_TMP/nginx.out" taskset -c "$PROXY_CPU" nginx -c "$LAB_TMP/nginx.conf" -g 'daemon off;'
	PROXY_PID=$LAB_BG_PID
	poll 5 sh -c "ip netns exec $(ns_name proxy) ss -uln | grep -q '10.0.1.1:6012'" ||
		die "nginx did not start: $(cat "$LAB_TMP/nginx.out" "$LAB_TMP/nginx-error.log" 2>/dev/null)"
}

# cpu_ticks PID : user + system clock ticks so far
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# with_cpu VAR CMD... : runs CMD (output to stdout), sets VAR to the proxy's CPU % meanwhile
with_cpu() {
	local var=$1 t0 c0 out
	shift
	t0=$(date +%s%N)
	c0=$(cpu_ticks "$PROXY_PID")
	out=$("$@")
	printf -v "$var" '%s' "$(awk -v c="$(($(cpu_ticks "$PROXY_PID") - c0))" -v hz="$(getconf CLK_TCK)" -v ns="$(($(date +%s%N) - t0))" 'BEGIN { printf "%.0f", 100 * c / hz / (ns / 1e9) }')"
	printf '%s' "$out"
}

json() { sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" <<<"$1"; }

# rr ADDR PORT : requests per second
rr() { json "$(nsx client taskset -c "$LOAD_CPUS" "$B" rr "$1" "$2" "$CLIENTS" "$SECONDS_EACH" 64)" rps; }
# bulk ADDR PORT : Mbit/s arriving at the sink
bulk() {
	local out
	bg_in svc "$LAB_TMP/sink.out" taskset -c "$LOAD_CPUS" "$B" sink 10.0.2.2 7001 "$SECONDS_EACH"
	local sink=$LAB_BG_PID
	sleep 0.2
	nsx client taskset -c "$LOAD_CPUS" "$B" blast "$1" "$2" "$((SECONDS_EACH + 2))" 1200 || true
	wait "$sink" 2>/dev/null || true
	bg_stop "$sink"
	out=$(cat "$LAB_TMP/sink.out")
	json "$out" mbps
}

echo "bench-udp-proxy: $CLIENTS clients x 1 request in flight (64 B), bulk 1200 B one way; ${SECONDS_EACH}s each; proxy on CPU $PROXY_CPU, load on $LOAD_CPUS" >&2
RR_DIRECT=$(rr 10.0.2.2 7000)
BULK_DIRECT=$(bulk 10.0.2.2 7001)
start_nginx
NGINX_PID=$(cat "$LAB_TMP/nginx.pid" 2>/dev/null || echo "$PROXY_PID")
PROXY_PID_SAVED=$PROXY_PID
PROXY_PID=$NGINX_PID # the worker is a child; the master's pid file names the master
PROXY_PID=$(pgrep -P "$NGINX_PID" | head -1 || echo "$NGINX_PID")
with_cpu CPU_RR_NGINX rr 10.0.1.1 6002 >"$LAB_TMP/v"; RR_NGINX=$(cat "$LAB_TMP/v")
with_cpu CPU_BULK_NGINX bulk 10.0.1.1 6012 >"$LAB_TMP/v"; BULK_NGINX=$(cat "$LAB_TMP/v")
PROXY_PID=$PROXY_PID_SAVED
bg_stop "$PROXY_PID"
start_udp_proxy
with_cpu CPU_RR_UP rr 10.0.1.1 6001 >"$LAB_TMP/v"; RR_UP=$(cat "$LAB_TMP/v")
with_cpu CPU_BULK_UP bulk 10.0.1.1 6011 >"$LAB_TMP/v"; BULK_UP=$(cat "$LAB_TMP/v")
with_cpu CPU_RR_ALIAS rr 10.0.1.1 6003 >"$LAB_TMP/v"; RR_ALIAS=$(cat "$LAB_TMP/v")
nsx proxy "$UP" status --control-socket "$LAB_TMP/udp-proxy.sock" >"$LAB_TMP/udp-proxy-status.txt" 2>&1 || true
UP_RSS=$(awk '/VmHWM/ { print $2 }' "/proc/$PROXY_PID/status" 2>/dev/null || echo 0)
bg_stop "$PROXY_PID"

# Each proxied path against nginx (the goal) and against the direct path; CPU against nginx's.
row "request/response: udp-proxy vs nginx" "$RR_UP" "$RR_NGINX" req/s "x>=1.0"
row "request/response: udp-proxy vs direct" "$RR_UP" "$RR_DIRECT" req/s -
row "  ... rule with an alias vs nginx" "$RR_ALIAS" "$RR_NGINX" req/s "x>=1.0"
row "  ... rule with an alias vs direct" "$RR_ALIAS" "$RR_DIRECT" req/s -
row "bulk one way: udp-proxy vs nginx" "$BULK_UP" "$BULK_NGINX" Mbit/s "x>=1.0"
row "bulk one way: udp-proxy vs direct" "$BULK_UP" "$BULK_DIRECT" Mbit/s -
row "proxy CPU, request/response: udp-proxy vs nginx" "$CPU_RR_UP" "$CPU_RR_NGINX" % -
row "proxy CPU, bulk: udp-proxy vs nginx" "$CPU_BULK_UP" "$CPU_BULK_NGINX" % -
row "proxy CPU, rule with an alias vs nginx (rr)" "$CPU_RR_ALIAS" "$CPU_RR_NGINX" % -
row "udp-proxy peak RSS" "$(awk -v k="$UP_RSS" 'BEGIN { printf "%.1f", k / 1024 }')" - MiB -
echo
print_table
