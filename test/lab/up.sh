#!/usr/bin/env bash
# test/lab/up.sh NAME - bring up the lab test/lab/NAME.sh by hand, to poke at it: builds
# first if the executables are older than the sources, starts the proxies as the demo
# does, prints the namespaces and how to enter them, then waits; Ctrl-C tears it all
# down (processes, namespaces, $LAB_TMP).
#
# Usage: make lab TOPO=ssdp-proxy     or, as root: test/lab/up.sh ssdp-proxy
# A topology file joins in by defining lab_<name with _ for ->, which brings it up with
# its proxies running and prints what is where.
set -euo pipefail
cd "$(dirname "$0")/../.."

topologies() {
	local f n
	for f in test/lab/*.sh; do
		n=$(basename "$f" .sh)
		grep -q "^lab_${n//-/_}()" "$f" && printf ' %s' "$n"
	done
}
topo=${1:-}
if [ -z "$topo" ] || [ ! -f "test/lab/$topo.sh" ] || ! grep -q "^lab_${topo//-/_}()" "test/lab/$topo.sh"; then
	printf 'usage: make lab TOPO=NAME (or test/lab/up.sh NAME), NAME one of:%s\n' "$(topologies)" >&2
	exit 2
fi

LAB_PREFIX=${LAB_PREFIX:-udml$$-}
# shellcheck source=test/lab/lib.sh
. test/lab/lib.sh
# shellcheck source=/dev/null # one of the topologies, by name
. "test/lab/$topo.sh"
need_root

if [ ! -f dist/SHA256SUMS ] || [ -n "$(find src scripts/build/build.mjs package-lock.json -newer dist/SHA256SUMS -print -quit)" ]; then
	echo "== building (the executables are older than the sources)"
	make --no-print-directory build >"$LAB_TMP/build.log" 2>&1 || bail "the build failed" "$(tail -20 "$LAB_TMP/build.log")"
fi

ok() { printf '   ok: %s\n' "$1"; }
echo "== $topo lab: bringing it up (namespaces ${LAB_PREFIX}*)"
"lab_${topo//-/_}"

echo
echo "namespaces (enter one with: ip netns exec NAME bash, or run one command in it):"
printf '  %s\n' "${LAB_NS[@]}"
echo "logs, configs and sockets: $LAB_TMP"
echo "Running until Ctrl-C, which tears it all down."
trap 'echo; echo "== tearing down"; exit 0' INT TERM
sleep infinity &
bg_track $!
wait $! || true
