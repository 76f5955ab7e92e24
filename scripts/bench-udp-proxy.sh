#!/usr/bin/env bash
# Benchmarks udp-proxy against the direct (kernel-routed) path and against nginx's
# stream UDP proxy, on one topology in network namespaces this script creates and
# removes; no traffic leaves them. Every figure comes with its baselines measured
# in the same run and the ratios; one table at the end. Goals are reported
# (ok / MISSED), never asserted: the exit status is non-zero only when the bench
# cannot run.
#
# Usage: scripts/bench-udp-proxy.sh   (as root; needs dist/udp-proxy-linux-x64, cc,
#        nginx with libnginx-mod-stream; about a minute)
#
#   cli  10.0.1.2 --veth-- 10.0.1.1  mid  10.0.2.1 --veth-- 10.0.2.2  srv
#   mid forwards (the direct path) and runs udp-proxy or nginx (the proxied paths).
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

BENCH_NAME=bench-udp-proxy
# shellcheck source=scripts/bench/lib.sh
. scripts/bench/lib.sh

[ "$(id -u)" = 0 ] || die "needs root for network namespaces; run: sudo scripts/bench-udp-proxy.sh"
for c in ip cc nginx taskset awk nproc; do
	command -v "$c" >/dev/null || die "missing command '$c'; install it (apt-get install iproute2 gcc nginx libnginx-mod-stream util-linux)"
done
NGINX_STREAM=/usr/lib/nginx/modules/ngx_stream_module.so
[ -f "$NGINX_STREAM" ] || die "$NGINX_STREAM is missing; install it: apt-get install libnginx-mod-stream"
[ -x "$UP" ] || die "$UP is missing; run: node scripts/build.mjs --target linux-x64 udp-proxy"

bench_begin udm-bench-udp udpb

# Every process runs pinned: bg NS LOG taskset -c CPUS CMD... (taskset execs CMD, so BG_PID stays its pid).

# ------------------------------------------------------------ tools and lab
cc -O2 -Wall -o "$TMP/udpbench" scripts/bench/udpbench.c || die "cannot compile scripts/bench/udpbench.c"
B="$TMP/udpbench"

ncpu=$(nproc)
if [ "$ncpu" -ge 2 ]; then
	PROXY_CPU=$((ncpu - 1))
	LOAD_CPUS="0-$((ncpu - 2))"
else
	PROXY_CPU=0 LOAD_CPUS=0
fi

for n in cli mid srv; do
	ip netns add "$P$n"
	NSS+=("$P$n")
	ns "$n" ip link set lo up
done
ip link add c0 netns "${P}cli" type veth peer name m0 netns "${P}mid"
ip link add m1 netns "${P}mid" type veth peer name s0 netns "${P}srv"
ns cli ip addr add 10.0.1.2/24 dev c0
ns mid ip addr add 10.0.1.1/24 dev m0
ns mid ip addr add 10.0.2.1/24 dev m1
ns srv ip addr add 10.0.2.2/24 dev s0
ns cli ip link set c0 up
ns mid ip link set m0 up
ns mid ip link set m1 up
ns srv ip link set s0 up
ns cli ip route add default via 10.0.1.1
ns srv ip route add default via 10.0.2.1
ns mid sysctl -qw net.ipv4.ip_forward=1
for n in cli mid srv; do
	# Room for bursts; the same for every path.
	ns "$n" sysctl -qw net.core.rmem_max=8388608 net.core.wmem_max=8388608 2>/dev/null || true
done

bg srv "$TMP/echo.log" taskset -c "$LOAD_CPUS" "$B" echo 10.0.2.2 7000

cat >"$TMP/udp-proxy.json" <<EOF
{ "proxy": [
    { "name": "rr",   "listen": "10.0.1.1:6001", "upstream": "10.0.2.2:7000" },
    { "name": "rr-alias", "listen": "10.0.1.1:6003", "upstream": "10.0.2.2:7000", "replyAlias": ["10.0.2.3"] },
    { "name": "bulk", "listen": "10.0.1.1:6011", "upstream": "10.0.2.2:7001" } ],
  "controlSocket": "$TMP/udp-proxy.sock", "log": "$TMP/udp-proxy.log" }
EOF
cat >"$TMP/nginx.conf" <<EOF
load_module $NGINX_STREAM;
worker_processes 1;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log warn;
events { worker_connections 8192; }
stream {
    server { listen 10.0.1.1:6002 udp; proxy_pass 10.0.2.2:7000; proxy_timeout 60s; }
    server { listen 10.0.1.1:6012 udp; proxy_pass 10.0.2.2:7001; proxy_responses 0; proxy_timeout 60s; }
}
EOF

start_udp_proxy() {
	bg mid "$TMP/udp-proxy.out" taskset -c "$PROXY_CPU" "$UP" --config "$TMP/udp-proxy.json"
	PROXY_PID=$BG_PID
	for _ in $(seq 50); do
		ns mid "$UP" status --control-socket "$TMP/udp-proxy.sock" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	die "udp-proxy did not start: $(cat "$TMP/udp-proxy.out")"
}
start_nginx() {
	bg mid "$TMP/nginx.out" taskset -c "$PROXY_CPU" nginx -c "$TMP/nginx.conf" -g 'daemon off;'
	PROXY_PID=$BG_PID
	for _ in $(seq 50); do
		ns mid ss -uln | grep -q '10.0.1.1:6012' && return 0
		sleep 0.1
	done
	die "nginx did not start: $(cat "$TMP/nginx.out" "$TMP/nginx-error.log" 2>/dev/null)"
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
rr() { json "$(ns cli taskset -c "$LOAD_CPUS" "$B" rr "$1" "$2" "$CLIENTS" "$SECONDS_EACH" 64)" rps; }
# bulk ADDR PORT : Mbit/s arriving at the sink
bulk() {
	local out
	bg srv "$TMP/sink.out" taskset -c "$LOAD_CPUS" "$B" sink 10.0.2.2 7001 "$SECONDS_EACH"
	local sink=$BG_PID
	sleep 0.2
	ns cli taskset -c "$LOAD_CPUS" "$B" blast "$1" "$2" "$((SECONDS_EACH + 2))" 1200 || true
	wait "$sink" 2>/dev/null || true
	stop_bg "$sink"
	out=$(cat "$TMP/sink.out")
	json "$out" mbps
}

echo "bench-udp-proxy: $CLIENTS clients x 1 request in flight (64 B), bulk 1200 B one way; ${SECONDS_EACH}s each; proxy on CPU $PROXY_CPU, load on $LOAD_CPUS" >&2
RR_DIRECT=$(rr 10.0.2.2 7000)
BULK_DIRECT=$(bulk 10.0.2.2 7001)
start_nginx
NGINX_PID=$(cat "$TMP/nginx.pid" 2>/dev/null || echo "$PROXY_PID")
PROXY_PID_SAVED=$PROXY_PID
PROXY_PID=$NGINX_PID # the worker is a child; the master's pid file names the master
PROXY_PID=$(pgrep -P "$NGINX_PID" | head -1 || echo "$NGINX_PID")
with_cpu CPU_RR_NGINX rr 10.0.1.1 6002 >"$TMP/v"; RR_NGINX=$(cat "$TMP/v")
with_cpu CPU_BULK_NGINX bulk 10.0.1.1 6012 >"$TMP/v"; BULK_NGINX=$(cat "$TMP/v")
PROXY_PID=$PROXY_PID_SAVED
stop_bg "$PROXY_PID"
start_udp_proxy
with_cpu CPU_RR_UP rr 10.0.1.1 6001 >"$TMP/v"; RR_UP=$(cat "$TMP/v")
with_cpu CPU_BULK_UP bulk 10.0.1.1 6011 >"$TMP/v"; BULK_UP=$(cat "$TMP/v")
with_cpu CPU_RR_ALIAS rr 10.0.1.1 6003 >"$TMP/v"; RR_ALIAS=$(cat "$TMP/v")
ns mid "$UP" status --control-socket "$TMP/udp-proxy.sock" >"$TMP/udp-proxy-status.txt" 2>&1 || true
UP_RSS=$(awk '/VmHWM/ { print $2 }' "/proc/$PROXY_PID/status" 2>/dev/null || echo 0)
stop_bg "$PROXY_PID"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }'; }
goal() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0 && a / b >= 1.0) print "ok"; else print "MISSED" }'; }

printf '\n%-28s %10s %10s %10s %9s %9s  %s\n' "udp-proxy" "direct" "nginx" "udp-proxy" "vs nginx" "vs direct" "goal: >= 1.0x nginx"
printf '%-28s %10s %10s %10s %9s %9s  %s\n' "request/response (req/s)" "$RR_DIRECT" "$RR_NGINX" "$RR_UP" "$(ratio "$RR_UP" "$RR_NGINX")" "$(ratio "$RR_UP" "$RR_DIRECT")" "$(goal "$RR_UP" "$RR_NGINX")"
printf '%-28s %10s %10s %10s %9s %9s  %s\n' "  ... rule with an alias" "$RR_DIRECT" "$RR_NGINX" "$RR_ALIAS" "$(ratio "$RR_ALIAS" "$RR_NGINX")" "$(ratio "$RR_ALIAS" "$RR_DIRECT")" "$(goal "$RR_ALIAS" "$RR_NGINX")"
printf '%-28s %10s %10s %10s %9s %9s  %s\n' "bulk one way (Mbit/s)" "$BULK_DIRECT" "$BULK_NGINX" "$BULK_UP" "$(ratio "$BULK_UP" "$BULK_NGINX")" "$(ratio "$BULK_UP" "$BULK_DIRECT")" "$(goal "$BULK_UP" "$BULK_NGINX")"
printf '%-28s %10s %10s %10s\n' "proxy CPU % (rr, bulk)" "-" "$CPU_RR_NGINX, $CPU_BULK_NGINX" "$CPU_RR_UP, $CPU_BULK_UP"
printf '%-28s %10s %10s %10s\n' "  ... rule with an alias" "-" "-" "$CPU_RR_ALIAS"
printf '%-28s %10s\n' "udp-proxy peak RSS (MiB)" "$(awk -v k="$UP_RSS" 'BEGIN { printf "%.1f", k / 1024 }')"
