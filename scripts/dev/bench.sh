#!/usr/bin/env bash
# Benchmarks the single executables in dist/ and mld-proxy under load, in
# network namespaces this script creates and removes. Every figure comes with a
# baseline measured in the same run and the ratio; one table at the end.
# Goals are reported (ok / MISSED), never asserted: the exit status is non-zero
# only when the bench cannot run (not root, nothing built, a lab step failed).
#
# Usage: scripts/dev/bench.sh    (`make bench` builds first; about a minute)
#
# Lab: test/lab/mld-proxy.sh's quiet one (mld_quiet_topology_up), namespaces udmb<pid>-*,
# no traffic ever leaves them:
#   gw    p-rtr (IPv6 off) <-veth-> rtr:eth9   the ISP side: MLD reports are captured here
#   rtr   eth9 02:00:00:00:00:09, 2001:db8:1::ff:fe00:9/64; br0 bridge, port p-host;
#         mld-proxy eth9 br0
#   host  eth0 (IPv6 off) <-veth-> rtr:p-host  the LAN: NS frames are injected here
# Helpers in scripts/dev/bench/: ns-flood.ts (NS sender), mld-capture.ts (report capture),
# join-groups.ts (the direct-join baseline), latency.ts (pairs sends with reports);
# table.sh prints the table, as for every bench.
set -euo pipefail
cd "$(dirname "$0")/../.."
export LC_ALL=C # EPOCHREALTIME and awk with a '.' decimal point

LATENCY_N=50
FILL_N=4096
FLOOD_RATE=10000
FLOOD_SECONDS=10
CLK_TCK=$(getconf CLK_TCK)
TS=(node -r esbuild-register)

LAB_PREFIX=udmb$$-
# shellcheck source=test/lab/lib.sh
. test/lab/lib.sh
# shellcheck source=test/lab/mld-proxy.sh
. test/lab/mld-proxy.sh
# shellcheck source=scripts/dev/bench/table.sh
. scripts/dev/bench/table.sh

# ------------------------------------------------------------ preconditions

need_root
need_cmd ip node jq awk getconf
[ -d node_modules/esbuild-register ] || die "node_modules is missing; run: make setup"
mapfile -t EXES < <(find dist -maxdepth 1 -type f \( -name '*-linux-x64' -o -name '*-linux-arm64' \) 2>/dev/null | sort)
[ "${#EXES[@]}" -gt 0 ] || die "no executables in dist/; run: make build"
MLD=${BENCH_MLD:-dist/mld-proxy-linux-x64} # BENCH_MLD: try another build
[ -x "$MLD" ] || die "$MLD is missing; run: make build"

# kb PID FIELD : VmRSS / VmHWM of a running process, in kB.
kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
# cpu_ticks PID : utime + stime (fields 14 and 15 of /proc/PID/stat, after the comm).
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
now_us() { printf '%s' "${EPOCHREALTIME/./}"; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# daemon_args NAME BASE : sets DARGS, the command line that runs NAME as a daemon in the lab
# (control socket BASE.sock). A new executable in dist/ needs a line here: the bench
# refuses to guess rather than skip it.
daemon_args() {
	case $1 in
	mld-proxy) DARGS=(--control-socket "$2.sock" --log "$2.log" --prefix "$PREFIX" "${@:3}" "$RTR_WAN" "$RTR_LAN") ;;
	ssdp-proxy)
		head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$2.key"
		DARGS=(--control-socket "$2.sock" --log "$2.log" --lan "$RTR_LAN" --peer 10.255.0.2 --key-file "$2.key" "${@:3}")
		;;
	udp-tunnel) DARGS=(serve --control-socket "$2.sock" --log "$2.log" "${@:3}") ;;
	udp-proxy) DARGS=(--control-socket "$2.sock" --log "$2.log" --listen 5300 --upstream 127.0.0.1:53 "${@:3}") ;;
	*) die "bench.sh does not know how to run $1 as a daemon; add it to daemon_args" ;;
	esac
}

# status_json SOCK : mld-proxy's status, as JSON.
status_json() { "$MLD" status --control-socket "$1" --json; }

# start_ms CMD... : median wall time of 5 runs after one warm-up run, in ms.
start_ms() {
	local t0 t1 times=()
	"$@" >/dev/null 2>&1 || die "failed: $*"
	for _ in 1 2 3 4 5; do
		t0=$(now_us)
		"$@" >/dev/null 2>&1
		t1=$(now_us)
		times+=($((t1 - t0)))
	done
	printf '%s\n' "${times[@]}" | sort -n | awk 'NR == 3 { printf "%.1f", $1 / 1000 }'
}

# uncache FILE... : drop FILE's pages from the page cache. A file just written
# (the build) sits in large page-cache folios on recent kernels, and mapping
# one maps all of it: the executable then shows ~18 MB more RSS than the same
# code from a file that was read back from disk. The gateway's 4.19 kernel
# has no large folios, so both sides are measured from a cold cache.
uncache() {
	local f
	# Dirty pages cannot be dropped: write them out first.
	for f in "$@"; do sync "$f" && dd if="$f" iflag=nocache count=0 status=none; done
}

# --------------------------------------------- 1. executables: size, start, idle RSS

echo "== lab up ($LAB_PREFIX*)"
mld_quiet_topology_up

bench_executable() {
	local exe=$1 base label name arch ver node run=() start base_start rss hwm anon brss bhwm banon pid
	base=$(basename "$exe")
	name=${base%-linux-*}
	arch=${base##*-linux-}
	label=$base
	case $arch in
	x64) ;;
	arm64)
		command -v qemu-aarch64-static >/dev/null || die "qemu-aarch64-static is missing; run: apt-get install qemu-user-static"
		[ -d /usr/aarch64-linux-gnu ] || die "/usr/aarch64-linux-gnu is missing; run: apt-get install libc6-arm64-cross"
		run=(qemu-aarch64-static -L /usr/aarch64-linux-gnu)
		label="$base (qemu)" # times and RSS are the emulator's: compare with the ratio only
		;;
	*) die "unknown architecture in $exe" ;;
	esac
	ver=$("${run[@]}" "$exe" --version) || die "$exe --version failed"
	ver=$(sed -n 's/.*[( ]node \([0-9.]*\).*/\1/p' <<<"$ver")
	node=.cache/pinned/node-linux-$arch-$ver/package/bin/node
	[ -x "$node" ] || die "base node $ver for $arch is missing at $node; run: make build"
	echo "== $base (node $ver${run[*]:+, under ${run[0]}})"

	row "$label file size vs base node" "$(mb "$(($(stat -c %s "$exe") / 1024))")" "$(mb "$(($(stat -c %s "$node") / 1024))")" MB -
	start=$(start_ms "${run[@]}" "$exe" --version)
	base_start=$(start_ms "${run[@]}" "$node" -e 0)
	row "$label start: --version vs node -e 0 (median of 5)" "$start" "$base_start" ms -

	uncache "$exe" "$node"
	daemon_args "$name" "$LAB_TMP/idle-$base"
	bg_in rtr "$LAB_TMP/idle-$base.out" "${run[@]}" "$exe" "${DARGS[@]}"
	pid=$LAB_BG_PID
	wait_until 30 "$base to open its control socket" test -S "$LAB_TMP/idle-$base.sock"
	sleep 2
	bg_alive "$pid" || die "$base exited while idle; see $LAB_TMP/idle-$base.out"
	rss=$(kb "$pid" VmRSS) hwm=$(kb "$pid" VmHWM) anon=$(kb "$pid" RssAnon)
	bg_stop "$pid"

	# The baseline is sampled 2 s after it says it is up, like the daemon.
	bg_in rtr "$LAB_TMP/idle-node-$arch.out" "${run[@]}" "$node" -e 'require("fs").writeFileSync(process.argv[1], ""); setInterval(() => {}, 1000)' "$LAB_TMP/ready-node-$arch"
	pid=$LAB_BG_PID
	wait_until 30 "base node $arch to start" test -e "$LAB_TMP/ready-node-$arch"
	sleep 2
	bg_alive "$pid" || die "base node $arch exited while idle"
	brss=$(kb "$pid" VmRSS) bhwm=$(kb "$pid" VmHWM) banon=$(kb "$pid" RssAnon)
	bg_stop "$pid"
	row "$label idle VmRSS vs idle node" "$(mb "$rss")" "$(mb "$brss")" MB -
	row "$label idle VmHWM vs idle node" "$(mb "$hwm")" "$(mb "$bhwm")" MB -
	row "$label idle RssAnon vs idle node" "$(mb "$anon")" "$(mb "$banon")" MB -
}

for exe in "${EXES[@]}"; do bench_executable "$exe"; done

# ---------------------------------------------------------- 2. mld-proxy at work

echo "== mld-proxy (x64) in the lab"
SOCK=$LAB_TMP/mld.sock
daemon_args mld-proxy "$LAB_TMP/mld" --max-addresses "$FILL_N" --timeout 3600 --check-interval 30
uncache "$MLD"
bg_in rtr "$LAB_TMP/mld.out" "$MLD" "${DARGS[@]}"
MLD_PID=$LAB_BG_PID
wait_until 10 "mld-proxy to open its control socket" test -S "$SOCK"
sleep 2
IDLE_RSS=$(kb "$MLD_PID" VmRSS) IDLE_ANON=$(kb "$MLD_PID" RssAnon)

# 2a. Latency: DAD NS on br0 -> MLDv2 report on eth9.
#
# No random delay on the first report (checked in net/ipv6/mcast.c and here):
# an MLDv2 join calls mld_ifc_event(), which arms the interface-change work
# with mld_ifc_start_work(idev, 1), i.e. random(1) + 2 = 2 jiffies (8 ms at
# HZ=250; ~10-11 ms measured with timer slack). Only the robustness repeats
# wait a random part of the 1 s unsolicited report interval, and a new join
# re-arms pending work to 2 jiffies, so joins 100 ms apart each get their own
# first report. (MLDv1, igmp6_join_group, sends the first report at once.) The
# direct-join baseline measures exactly this kernel delay, so the ratio is what
# the proxy adds.
echo "   latency: $LATENCY_N direct joins (baseline), then $LATENCY_N DAD NS via the proxy"
bg_in gw "$LAB_TMP/capture.log" "${TS[@]}" scripts/dev/bench/mld-capture.ts --if "$GW_RTR_PORT" --from-mac "$RTR_WAN_MAC"
CAP_PID=$LAB_BG_PID
wait_until 15 "the MLD capture on $GW_RTR_PORT" grep -q '^# ready' "$LAB_TMP/capture.log"
nsx rtr "${TS[@]}" scripts/dev/bench/join-groups.ts --if "$RTR_WAN" --prefix "$PREFIX" \
	--count "$LATENCY_N" --interval-ms 100 >"$LAB_TMP/joined.log" || die "join-groups.ts failed"
nsx host "${TS[@]}" scripts/dev/bench/ns-flood.ts --if "$HOST_IF" --src-mac "$HOST_MAC" --prefix "$PREFIX" \
	--addresses "$LATENCY_N" --rate 10 --log-sent >"$LAB_TMP/injected.log" || die "ns-flood.ts (latency) failed"
sleep 0.5
bg_stop "$CAP_PID"
LAT=$("${TS[@]}" scripts/dev/bench/latency.ts "$LAB_TMP/injected.log" "$LAB_TMP/capture.log")
LAT_BASE=$("${TS[@]}" scripts/dev/bench/latency.ts "$LAB_TMP/joined.log" "$LAB_TMP/capture.log")
jq -e '.matched > 0' <<<"$LAT_BASE" >/dev/null || die "no MLD report seen for the direct joins: the capture does not work ($LAB_TMP/capture.log)"
# lat JSON FIELD : the figure to one decimal, or "k/n reports" when some report never came.
lat() { jq -r "if .matched == .n then .$2 else \"\(.matched)/\(.n) reports\" end" <<<"$1" | awk '/^[0-9.]+$/ { printf "%.1f", $1; next } { printf "%s", $0 }'; }
row "NS on br0 -> MLD report on eth9, median (n=$LATENCY_N)" "$(lat "$LAT" medianMs)" "$(lat "$LAT_BASE" medianMs)" ms "<100"
row "NS on br0 -> MLD report on eth9, p95" "$(lat "$LAT" p95Ms)" "$(lat "$LAT_BASE" p95Ms)" ms -

# 2b. RSS with a full table. Learning is watched through the kernel's group
# count on eth9, not through `status --json`: building that 4096-entry reply
# would grow the heap we are about to measure. Frames the capture buffer
# dropped are sent again. VmRSS is mostly the mapped executable (RssFile);
# RssAnon is what the addresses themselves cost.
proxy_groups() { ip -n "$RTR_NS" -6 maddr show dev "$RTR_WAN" | grep -c 'ff02::1:ff10:' || true; }
echo "   table: DAD NS for $FILL_N addresses"
joined=0
for round in 1 2 3; do
	nsx host "${TS[@]}" scripts/dev/bench/ns-flood.ts --if "$HOST_IF" --src-mac "$HOST_MAC" --prefix "$PREFIX" \
		--addresses "$FILL_N" --rate 4000 >"$LAB_TMP/fill-$round.log" || die "ns-flood.ts (fill) failed"
	for _ in $(seq 20); do
		joined=$(proxy_groups)
		[ "$joined" -lt "$FILL_N" ] || break 2
		sleep 0.25
	done
	echo "   round $round: $joined of $FILL_N groups joined, sending again"
done
[ "$joined" = "$FILL_N" ] || die "mld-proxy joined $joined of $FILL_N groups on eth9; see $LAB_TMP/mld.log"
sleep 1
FULL_RSS=$(kb "$MLD_PID" VmRSS) FULL_ANON=$(kb "$MLD_PID" RssAnon)
learned=$(status_json "$SOCK" | jq '.addresses | length')
[ "$learned" = "$FILL_N" ] || die "status --json shows $learned addresses, expected $FILL_N"
row "VmRSS with $FILL_N addresses vs idle (0)" "$(mb "$FULL_RSS")" "$(mb "$IDLE_RSS")" MB "<60"
row "RssAnon with $FILL_N addresses vs idle (0)" "$(mb "$FULL_ANON")" "$(mb "$IDLE_ANON")" MB -

# 2c. CPU under 10k NS/s: 90% random targets (the table is full: refused path),
# 10% repeats of learned addresses (refresh path). Baseline: the same daemon idle.
cpu_pct() { awk -v t="$1" -v us="$2" -v hz="$CLK_TCK" 'BEGIN { printf "%.1f", 100 * t / hz / (us / 1e6) }'; }
echo "   cpu: idle ${FLOOD_SECONDS} s, then ${FLOOD_RATE} NS/s for ${FLOOD_SECONDS} s"
t0=$(now_us) c0=$(cpu_ticks "$MLD_PID")
sleep "$FLOOD_SECONDS"
t1=$(now_us) c1=$(cpu_ticks "$MLD_PID")
IDLE_CPU=$(cpu_pct $((c1 - c0)) $((t1 - t0)))

before=$(status_json "$SOCK")
bg_in host "$LAB_TMP/flood.log" "${TS[@]}" scripts/dev/bench/ns-flood.ts --if "$HOST_IF" --src-mac "$HOST_MAC" --prefix "$PREFIX" \
	--addresses "$FILL_N" --random 0.9 --rate "$FLOOD_RATE" --duration $((FLOOD_SECONDS + 1))
FLOOD_PID=$LAB_BG_PID
wait_until 15 "the flood to start" grep -q '^# sending' "$LAB_TMP/flood.log"
sleep 0.5 # the measuring window sits inside the flood
t0=$(now_us) c0=$(cpu_ticks "$MLD_PID") rss0=$(kb "$MLD_PID" VmRSS)
sleep "$FLOOD_SECONDS"
t1=$(now_us) c1=$(cpu_ticks "$MLD_PID") rss1=$(kb "$MLD_PID" VmRSS)
wait "$FLOOD_PID" || die "ns-flood.ts (flood) failed; see $LAB_TMP/flood.log"
bg_alive "$MLD_PID" || die "mld-proxy died during the flood; see $LAB_TMP/mld.out"
after=$(status_json "$SOCK")
FLOOD=$(tail -n 1 "$LAB_TMP/flood.log")
jq -e .rate <<<"$FLOOD" >/dev/null || die "ns-flood.ts printed no summary; see $LAB_TMP/flood.log"
frames=$(($(jq .counters.frames <<<"$after") - $(jq .counters.frames <<<"$before")))
refused=$(($(jq .counters.refused <<<"$after") - $(jq .counters.refused <<<"$before")))
got=$(awk -v f="$frames" -v s="$(jq .seconds <<<"$FLOOD")" 'BEGIN { printf "%d", f / s }')
echo "   flood: sent $(jq .sent <<<"$FLOOD") frames in $(jq .seconds <<<"$FLOOD") s ($(jq .blocked <<<"$FLOOD") blocked writes); daemon counted $frames frames, $refused refused"

row "CPU % of one core at ${FLOOD_RATE} NS/s vs idle" "$(cpu_pct $((c1 - c0)) $((t1 - t0)))" "$IDLE_CPU" % "<50"
row "flood: sender's achieved rate vs target" "$(jq .rate <<<"$FLOOD")" "$FLOOD_RATE" frames/s ">=9500"
row "flood: frames the daemon counted vs sent" "$got" "$(jq .rate <<<"$FLOOD")" frames/s -
row "flood: VmRSS at end vs start of the window" "$(mb "$rss1")" "$(mb "$rss0")" MB -
row "flood: VmRSS growth over ${FLOOD_SECONDS} s" "$(mb $((rss1 - rss0)))" - MB "<5"
bg_stop "$MLD_PID"

# -------------------------------------------------------------------- table

echo
print_table

# sub_bench TITLE SCRIPT EXE... : SCRIPT's own lab and table under "== TITLE", when the
# executables it measures were built.
sub_bench() {
	local title=$1 script=$2 exe
	shift 2
	for exe in "$@"; do [ -x "dist/$exe" ] || return 0; done
	echo
	echo "== $title (scripts/dev/$script)"
	bash "scripts/dev/$script"
}
# udp-proxy's throughput against the direct path and nginx.
sub_bench udp-proxy bench-udp-proxy.sh udp-proxy-linux-x64
# ssdp-proxy's discovery success, added latency and NOTIFY rate; mDNS discovery, added latency and CPU.
sub_bench ssdp-proxy bench-ssdp-proxy.sh ssdp-proxy-linux-x64
# udp-tunnel's TCP throughput against a socat TUN tunnel, wireguard-go and the raw underlay.
sub_bench udp-tunnel bench-udp-tunnel.sh udp-tunnel-linux-x64
# The firewall keeper on a UniFi-shaped table: rules back after a rebuild, the watch's idle cost.
sub_bench firewall bench-firewall.sh udp-proxy-linux-x64
# The Prometheus metrics: a scrape's CPU with full tables, idle memory with them on and off.
sub_bench metrics bench-metrics.sh udp-proxy-linux-x64 mld-proxy-linux-x64
# Each proxy's memory on arm64, in the test VM (about 5 minutes, more if the image
# must be built first).
sub_bench "arm64 memory in the VM" bench-arm64-memory.sh mld-proxy-linux-arm64
# The firewall keeper on arm64, in the test VM: the arm64 side of bench-firewall.sh.
sub_bench "arm64 firewall keeper in the VM" bench-arm64-firewall.sh udp-proxy-linux-arm64
