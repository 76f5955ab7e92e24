#!/usr/bin/env bash
# scripts/dev/bench-arm64-memory.sh - make bench: each proxy's memory on arm64, measured
# inside the test VM (test/lab/vm/: Debian 11, 1 GiB) by test/lab/vm/guest/memory.sh:
# idle VmRSS and RssAnon, and VmRSS with a loaded table (mld-proxy 4096 addresses,
# udp-proxy 4096 sessions), against idle Node itself (the executables' base) as the
# baseline. Memory only: the guest's CPU is emulated, so no speed figure comes from it.
# Each start is from a cold page cache, as after a boot. Goals (issue 12): idle
# VmRSS <= 50 MB and RssAnon <= 16 MB; reported, never asserted.
#
# Usage: scripts/dev/bench-arm64-memory.sh [VARIANT...]: VARIANTs are compared, median of
# three rounds each (see memory.sh; BENCH_VM_EXTRA=DIR brings other builds, DIR/NAME/,
# for dir=NAME); without, the build as it is, once. The VM image
# is built first if missing (about 5 minutes); the measuring boot takes 5 more.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=test/lab/lib.sh
. test/lab/lib.sh
# shellcheck source=scripts/dev/bench/table.sh
. scripts/dev/bench/table.sh
# shellcheck source=test/lab/vm/vm.sh
. test/lab/vm/vm.sh
vm_bench bench-arm64-memory
mkdir -p "$LAB_TMP/extra"
[ -f .cache/stripped/linux-arm64-node ] || die "no arm64 node base in .cache/stripped; run make first"
cp -l .cache/stripped/linux-arm64-node "$LAB_TMP/extra/node" 2>/dev/null ||
	cp .cache/stripped/linux-arm64-node "$LAB_TMP/extra/node"
# BENCH_VM_EXTRA: a folder of other builds to compare, one sub-folder each (dir=NAME).
if [ -n "${BENCH_VM_EXTRA:-}" ]; then cp -rl "$BENCH_VM_EXTRA"/. "$LAB_TMP/extra/" 2>/dev/null || cp -r "$BENCH_VM_EXTRA"/. "$LAB_TMP/extra/"; fi
vm_disks "$WORK" "$LAB_TMP/extra"
[ $# -eq 0 ] || printf '%s\n' "$@" >"$WORK/out/memory.sh.args"
vm_boot "$WORK" memory.sh 1800 || die "the measuring boot failed"
grep '^MEM ' "$WORK/out/memory.sh.log" >"$LAB_TMP/mem.txt" || die "memory.sh printed no figure"

# med WHAT VARIANT FIELD: the median (kB) over the rounds.
med() {
	awk -v w="$1" -v o="$2" -v f="$3" '
		$2 " " $3 == w && $4 == o { for (i = 5; i <= NF; i++) if (index($i, f "=") == 1) v[++n] = substr($i, length(f) + 2) + 0 }
		END {
			if (!n) { print "-"; exit }
			for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
			printf "%.1f\n", (n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2) / 1024
		}' "$LAB_TMP/mem.txt"
}
base_rss=$(med "node idle" - VmRSS)
base_anon=$(med "node idle" - RssAnon)
mapfile -t variants < <(awk '$2 != "node" { print $4 }' "$LAB_TMP/mem.txt" | awk '!seen[$0]++')
for o in "${variants[@]}"; do
	tag=
	[ "$o" = - ] || tag=" [$o]"
	for p in mld-proxy ssdp-proxy udp-proxy udp-tunnel; do
		row "arm64 $p idle VmRSS vs idle node$tag" "$(med "$p idle" "$o" VmRSS)" "$base_rss" MB "<=50"
		row "arm64 $p idle RssAnon vs idle node$tag" "$(med "$p idle" "$o" RssAnon)" "$base_anon" MB "<=16"
	done
	for p in mld-proxy:addresses udp-proxy:sessions; do
		n=$(awk -v w="${p%%:*} loaded" -v o="$o" '$2 " " $3 == w && $4 == o && $5 ~ /^entries=/ { n = substr($5, 9) } END { print n + 0 }' "$LAB_TMP/mem.txt")
		row "arm64 ${p%%:*} VmRSS, $n ${p#*:} vs idle$tag" "$(med "${p%%:*} loaded" "$o" VmRSS)" "$(med "${p%%:*} idle" "$o" VmRSS)" MB -
	done
	row "arm64 udp-proxy idle RssAnon, metrics on (scraped) vs off$tag" "$(med "udp-proxy metrics" "$o" RssAnon)" "$(med "udp-proxy idle" "$o" RssAnon)" MB -
	row "arm64 udp-proxy idle VmRSS, metrics on (scraped) vs off$tag" "$(med "udp-proxy metrics" "$o" VmRSS)" "$(med "udp-proxy idle" "$o" VmRSS)" MB -
done
print_table
echo "(VmRSS = RssAnon + RssFile (the executable's pages) + RssShmem; medians of $(grep -c '^MEM mld-proxy idle' "$LAB_TMP/mem.txt") / ${#variants[@]} start(s) per row)"
