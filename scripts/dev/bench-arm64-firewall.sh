#!/usr/bin/env bash
# scripts/dev/bench-arm64-firewall.sh - make bench: the firewall keeper (issue 20) on arm64,
# measured inside the test VM (test/lab/vm/) by test/lab/vm/guest/firewall-bench.sh,
# the arm64 side of scripts/dev/bench-firewall.sh: udp-proxy keeping its port open in a
# gateway namespace with UniFi's filter table; the time from a rebuild to the rules
# being back (median and max of 10; goal 5 s), and the watch's idle cost (CPU-seconds
# per hour on the UniFi gateway against a plain host, median of 3 windows each).
# The guest's CPU is emulated: its CPU-seconds are the emulated core's, several times a
# real Cortex-A57's; the times to put back are upper bounds for the same reason.
#
# Usage: scripts/dev/bench-arm64-firewall.sh   (as root; the VM image is built first if
#        missing, about 5 minutes; the measuring boot about 5 more)
set -euo pipefail
cd "$(dirname "$0")/../.."
export LC_ALL=C
# shellcheck source=test/lab/lib.sh
. test/lab/lib.sh
# shellcheck source=scripts/dev/bench/table.sh
. scripts/dev/bench/table.sh
# shellcheck source=test/lab/vm/vm.sh
. test/lab/vm/vm.sh
vm_bench bench-arm64-firewall
vm_disks "$WORK"
vm_boot "$WORK" firewall-bench.sh 900 || die "the measuring boot failed"
grep '^FWB ' "$WORK/out/firewall-bench.sh.log" >"$LAB_TMP/fwb.txt" || die "firewall-bench.sh printed no figure"

median() { sort -n | awk '{ a[NR] = $1 } END { if (!NR) print "-"; else print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
field() { awk -v k="$1" '{ for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) print substr($i, length(k) + 2) }'; }
times=$(grep '^FWB rebuild ' "$LAB_TMP/fwb.txt" | field ms)
n=$(wc -l <<<"$times")
echo "# arm64: rules back after each rebuild (ms): $(paste -sd' ' <<<"$times")"
never=$(grep -c never <<<"$times" || true)
put_median=$(grep -v never <<<"$times" | median)
put_max=$(grep -v never <<<"$times" | sort -n | tail -n 1)
[ "$never" = 0 ] || put_max=never
unifi_h=$(grep '^FWB idle unifi ' "$LAB_TMP/fwb.txt" | field cpu_s_per_h | median)
plain_h=$(grep '^FWB idle plain ' "$LAB_TMP/fwb.txt" | field cpu_s_per_h | median)
echo "# arm64: idle CPU-seconds per hour, UniFi gateway: $(grep '^FWB idle unifi ' "$LAB_TMP/fwb.txt" | field cpu_s_per_h | paste -sd' '); plain host: $(grep '^FWB idle plain ' "$LAB_TMP/fwb.txt" | field cpu_s_per_h | paste -sd' ')"

row "arm64 rules back after a rebuild, median of $n (ms)" "$put_median" - ms "<=5000"
row "arm64 rules back after a rebuild, max of $n (ms)" "$put_max" - ms "<=5000"
row "arm64 idle CPU on a UniFi gateway vs a plain host (CPU-s per hour, emulated)" "$unifi_h" "$plain_h" s -
row "arm64 the watch's own idle cost (the difference, CPU-s per hour, emulated)" "$(awk -v a="$unifi_h" -v o="$plain_h" 'BEGIN { printf "%.2f", a - o }')" - s "<36"
print_table
