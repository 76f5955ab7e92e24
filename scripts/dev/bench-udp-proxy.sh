#!/usr/bin/env bash
# Benchmarks udp-proxy against the direct (kernel-routed) path, against nginx's stream
# UDP proxy and against today's build (the last commit before the batched data path),
# in the udp-proxy lab (test/lab/udp-proxy.sh), in network namespaces this script
# creates and removes; no traffic leaves them. The machine is noisy: every path is
# measured in each of UDPB_ROUNDS rounds (3), the paths alternating, and the table
# (scripts/dev/bench/table.sh) shows medians and the median ratio with its range. Goals
# are reported (ok / MISSED), never asserted: the exit status is non-zero only when the
# bench cannot run.
#
# Usage: scripts/dev/bench-udp-proxy.sh   (as root; needs dist/udp-proxy-linux-x64, cc,
#        nginx with libnginx-mod-stream, git; about 3 minutes)
#
#   client  10.0.1.2, .10-.41 --veth-- 10.0.1.1  proxy  10.0.2.1 --veth-- 10.0.2.2  svc
#   proxy forwards (the direct path) and runs udp-proxy (this build and today's) and
#   nginx (the proxied paths), each alone on the last CPU; load and service on the others.
#
# Measures (UDPB_SECONDS each, default 3):
#   request/response: UDPB_CLIENTS (32) flows, one 64-byte request in flight each, against
#                     an echo server; requests per second. The load generator sends and
#                     receives all flows in batches (udpbench rrb: one socket, a source
#                     address per flow), so that it is not the ceiling: the direct path
#                     must be at least 2x the fastest proxy (a row says whether it is).
#                     On two CPUs the direct path forwards on the load's CPU, and the load
#                     and the echo server share it: the row after says how busy each
#                     proxy's own core was (near 100 %: the proxy is the ceiling).
#                     For udp-proxy also a rule with an alias (unconnected sockets).
#   latency:          one flow, one request in flight: the median round trip.
#   bulk one way:     1200-byte datagrams as fast as one sender can, into a sink;
#                     Mbit/s that arrive, and the proxy's CPU-seconds per Gbit moved.
#   CPU per request:  the proxy's CPU time per request answered (request/response):
#                     on a shared machine a proxy gets a share of a core, so this is
#                     what its rate depends on, and what carries over to the gateway.
set -euo pipefail
cd "$(dirname "$0")/../.."
export LC_ALL=C

SECONDS_EACH=${UDPB_SECONDS:-3}
CLIENTS=${UDPB_CLIENTS:-32}
ROUNDS=${UDPB_ROUNDS:-3}
UP=${BENCH_UDP_PROXY:-dist/udp-proxy-linux-x64}

LAB_PREFIX=udpb$$-
# shellcheck source=test/lab/lib.sh
. test/lab/lib.sh
# shellcheck source=test/lab/udp-proxy.sh
. test/lab/udp-proxy.sh
# shellcheck source=scripts/dev/bench/table.sh
. scripts/dev/bench/table.sh
# shellcheck source=scripts/dev/bench/rounds.sh
. scripts/dev/bench/rounds.sh

need_root
need_cmd ip cc nginx taskset awk nproc git
NGINX_STREAM=/usr/lib/nginx/modules/ngx_stream_module.so
[ -f "$NGINX_STREAM" ] || die "$NGINX_STREAM is missing; install it: apt-get install libnginx-mod-stream"
[ -x "$UP" ] || die "$UP is missing; run: node scripts/build/build.mjs --target linux-x64 udp-proxy"
baseline_build OLD udp-proxy

# ------------------------------------------------------------ tools and lab
cc -O2 -Wall -o "$LAB_TMP/udpbench" scripts/dev/bench/udpbench.c || die "cannot compile scripts/dev/bench/udpbench.c"
B="$LAB_TMP/udpbench"

bench_cpus

udp_links_up
udp_route_direct
for i in $(seq 0 $((CLIENTS - 1))); do nsx client ip addr add "10.0.1.$((10 + i))/24" dev c0; done
for n in client proxy svc; do
	# Room for bursts; the same for every path.
	nsx "$n" sysctl -qw net.core.rmem_max=8388608 net.core.wmem_max=8388608 2>/dev/null || true
done

bg_in svc "$LAB_TMP/echo.log" taskset -c "$LOAD_CPUS" "$B" echo 10.0.2.2 7000

# This build on 60xx, today's on 61xx, nginx on 62xx: all up at once, each idle but
# while it is measured.
proxy_conf() { # FILE PORTBASE
	cat >"$1" <<JSON
{ "proxy": [
    { "name": "rr",   "listen": "10.0.1.1:$(($2 + 1))", "upstream": "10.0.2.2:7000" },
    { "name": "rr-alias", "listen": "10.0.1.1:$(($2 + 3))", "upstream": "10.0.2.2:7000", "replyAlias": ["10.0.2.3"] },
    { "name": "bulk", "listen": "10.0.1.1:$(($2 + 11))", "upstream": "10.0.2.2:7001" } ],
  "controlSocket": "$1.sock", "log": "$1.log" }
JSON
}
cat >"$LAB_TMP/nginx.conf" <<EOF
load_module $NGINX_STREAM;
worker_processes 1;
pid $LAB_TMP/nginx.pid;
error_log $LAB_TMP/nginx-error.log warn;
events { worker_connections 8192; }
stream {
    server { listen 10.0.1.1:6201 udp; proxy_pass 10.0.2.2:7000; proxy_timeout 60s; }
    server { listen 10.0.1.1:6211 udp; proxy_pass 10.0.2.2:7001; proxy_responses 0; proxy_timeout 60s; }
}
EOF
declare -A PID=()
for who in new old; do
	exe=$UP base=6000
	[ "$who" = new ] || exe=$OLD base=6100
	proxy_conf "$LAB_TMP/$who.json" "$base"
	bg_in proxy "$LAB_TMP/$who.out" taskset -c "$MEASURED_CPU" "$exe" --config "$LAB_TMP/$who.json"
	PID[$who]=$LAB_BG_PID
	poll 5 nsx proxy "$exe" status --control-socket "$LAB_TMP/$who.json.sock" || die "udp-proxy ($who) did not start: $(cat "$LAB_TMP/$who.out")"
done
bg_in proxy "$LAB_TMP/nginx.out" taskset -c "$MEASURED_CPU" nginx -c "$LAB_TMP/nginx.conf" -g 'daemon off;'
poll 5 sh -c "ip netns exec $(ns_name proxy) ss -uln | grep -q '10.0.1.1:6211'" ||
	die "nginx did not start: $(cat "$LAB_TMP/nginx.out" "$LAB_TMP/nginx-error.log" 2>/dev/null)"
PID[nginx]=$(pgrep -P "$(cat "$LAB_TMP/nginx.pid")" | head -1) # the worker
PATH_NEW=$(nsx proxy "$UP" status --control-socket "$LAB_TMP/new.json.sock" | sed -n 's/^data path: //p' | cut -d, -f1)
PATH_NEW=${PATH_NEW:-?}

json() { sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" <<<"$1"; }
# port WHO OFFSET : where WHO listens
port() {
	case $1 in new) echo $((6000 + $2)) ;; old) echo $((6100 + $2)) ;; nginx) echo $((6200 + $2)) ;; esac
}
addr() { if [ "$1" = direct ]; then echo 10.0.2.2; else echo 10.0.1.1; fi; }
rr_to() { if [ "$1" = direct ]; then echo 7000; else port "$1" "$2"; fi; }

measure_rr() { # WHO [3: the rule with an alias]
	local out c0 c1 rps
	c0=$(cpu_ticks "${PID[$1]:-0}")
	out=$(nsx client taskset -c "$LOAD_CPUS" "$B" rrb "$(addr "$1")" "$(rr_to "$1" "${2:-1}")" "$CLIENTS" "$SECONDS_EACH" 64 10.0.1.10)
	c1=$(cpu_ticks "${PID[$1]:-0}")
	rps=$(json "$out" rps)
	keep "rr_$1${2:+_alias}" "$rps"
	if [ "$1" = direct ] || [ -n "${2:-}" ]; then return 0; fi
	# The proxy's CPU per request answered, in microseconds, and how busy its core was
	# (near 100 %: the proxy and not the load is the ceiling).
	keep "cpurr_$1" "$(awk -v c=$((c1 - c0)) -v hz="$CLK_TCK" -v r="$rps" -v s="$SECONDS_EACH" 'BEGIN { n = r * s; printf "%.2f", (n > 0 ? 1e6 * (c / hz) / n : 0) }')"
	keep "busy_$1" "$(awk -v c=$((c1 - c0)) -v hz="$CLK_TCK" -v s="$SECONDS_EACH" 'BEGIN { printf "%.0f", 100 * (c / hz) / s }')"
}
measure_lat() { # WHO
	local out
	out=$(nsx client taskset -c "$LOAD_CPUS" "$B" rr "$(addr "$1")" "$(rr_to "$1" 1)" 1 "$SECONDS_EACH" 64)
	keep "lat_$1" "$(json "$out" p50us)"
}
measure_bulk() { # WHO
	local to=7001 sink c0 c1 mbps
	[ "$1" = direct ] || to=$(port "$1" 11)
	bg_in svc "$LAB_TMP/sink.out" taskset -c "$LOAD_CPUS" "$B" sink 10.0.2.2 7001 "$SECONDS_EACH"
	sink=$LAB_BG_PID
	sleep 0.2
	c0=$(cpu_ticks "${PID[$1]:-0}")
	nsx client taskset -c "$LOAD_CPUS" "$B" blast "$(addr "$1")" "$to" "$((SECONDS_EACH + 1))" 1200 || true
	c1=$(cpu_ticks "${PID[$1]:-0}")
	wait "$sink" 2>/dev/null || true
	bg_stop "$sink"
	mbps=$(json "$(cat "$LAB_TMP/sink.out")" mbps)
	keep "bulk_$1" "$mbps"
	# CPU-seconds per Gbit moved (the blast runs SECONDS_EACH + 1 s; the sink counts SECONDS_EACH).
	[ "$1" = direct ] || keep "cpu_$1" "$(awk -v c=$((c1 - c0)) -v hz="$CLK_TCK" -v m="$mbps" -v s="$SECONDS_EACH" 'BEGIN { g = m * (s + 1) / 1000; printf "%.2f", (g > 0 ? (c / hz) / g : 0) }')"
}

echo "bench-udp-proxy: $ROUNDS rounds; $CLIENTS flows x 1 request in flight (64 B), latency at 1 in flight, bulk 1200 B one way; ${SECONDS_EACH}s each; proxies on CPU $MEASURED_CPU, load on $LOAD_CPUS; today's build: $BASELINE_REF" >&2
order=(new old nginx direct)
for r in $(seq 1 "$ROUNDS"); do
	echo "  round $r: ${order[*]}" >&2
	for who in "${order[@]}"; do measure_rr "$who"; done
	measure_rr new 3
	measure_rr old 3
	for who in "${order[@]}"; do measure_bulk "$who"; done
	for who in new old direct; do measure_lat "$who"; done
	order=("${order[@]:1}" "${order[0]}") # the next round starts with the next path
done
UP_RSS=$(awk '/VmHWM/ { print $2 }' "/proc/${PID[new]}/status" 2>/dev/null || echo 0)
OLD_RSS=$(awk '/VmHWM/ { print $2 }' "/proc/${PID[old]}/status" 2>/dev/null || echo 0)

N="udp-proxy ($PATH_NEW)"
O="today's build (dgram)"
fastest=rr_new
for w in old nginx; do [ "$(awk -v a="$(med "rr_$w")" -v b="$(med "$fastest")" 'BEGIN { print (a > b) }')" = 1 ] && fastest=rr_$w; done
row_rounds "request/response, $CLIENTS flows: $N vs nginx" rr_new rr_nginx req/s "x>=1.2"
row_rounds "  ... $N vs $O" rr_new rr_old req/s -
row_rounds "  ... $O vs nginx" rr_old rr_nginx req/s -
row_rounds "  ... a rule with an alias: $N vs nginx" rr_new_alias rr_nginx req/s -
row_rounds "  ... the load is not the ceiling: direct vs the fastest proxy (${fastest#rr_})" rr_direct "$fastest" req/s "x>=2"
row "  ... the proxy's core busy meanwhile: $N vs nginx" "$(med busy_new)" "$(med busy_nginx)" % -
row_rounds "bulk one way: $N vs nginx" bulk_new bulk_nginx Mbit/s "x>=3"
row_rounds "  ... $N vs $O" bulk_new bulk_old Mbit/s -
row_rounds "  ... direct vs $N" bulk_direct bulk_new Mbit/s -
row_rounds "proxy CPU-seconds per Gbit (bulk): $N vs $O" cpu_new cpu_old s/Gbit -
row_rounds "  ... nginx vs $O" cpu_nginx cpu_old s/Gbit -
row_rounds "proxy CPU per request (rr): $N vs nginx" cpurr_new cpurr_nginx us -
row_rounds "  ... $N vs $O" cpurr_new cpurr_old us -
row_rounds "latency p50, 1 in flight: $N vs $O" lat_new lat_old us "x<=1"
row_rounds "  ... direct vs $N" lat_direct lat_new us -
row "peak RSS: $N vs $O" "$(awk -v k="$UP_RSS" 'BEGIN { printf "%.1f", k / 1024 }')" "$(awk -v k="$OLD_RSS" 'BEGIN { printf "%.1f", k / 1024 }')" MiB -
echo
print_table
