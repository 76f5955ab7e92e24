# shellcheck shell=bash
# scripts/bench/lib.sh - what every bench script shares. Set BENCH_NAME, then
# source this: it gives die, stop_pid, wait_until; bench_begin TMPTAG PREFIX then
# makes the scratch directory TMP, the namespace prefix P and the lists NSS
# (namespaces) and PIDS (background processes) that the EXIT trap tears down;
# ns, bg and stop_bg work in this run's namespaces.

die() {
	printf '%s: ERROR: %s\n' "$BENCH_NAME" "$*" >&2
	exit 1
}

# stop_pid PID : TERM, up to 3 s to exit, then KILL.
stop_pid() {
	kill -TERM "$1" 2>/dev/null || return 0
	for _ in $(seq 30); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# wait_until SECONDS WHAT CMD... : poll CMD every 0.1 s; die when it never succeeds.
wait_until() {
	local deadline=$((${EPOCHREALTIME/./} + $1 * 1000000)) what=$2
	shift 2
	until "$@" >/dev/null 2>&1; do
		[ "${EPOCHREALTIME/./}" -lt "$deadline" ] || die "timed out waiting for $what"
		sleep 0.1
	done
}

# ns NAME CMD... : CMD in this run's namespace NAME (bench_begin's prefix added).
ns() { ip netns exec "$P$1" "${@:2}"; }

# bg NAME LOG CMD... : CMD in namespace NAME in the background, output to LOG;
# pid in BG_PID (`ip netns exec` execs CMD, so the pid is CMD's own); stopped at exit.
bg() {
	ip netns exec "$P$1" "${@:3}" >"$2" 2>&1 </dev/null &
	BG_PID=$!
	PIDS+=("$BG_PID")
}

# stop_bg PID : stop one of bg's processes now, and forget it.
stop_bg() {
	stop_pid "$1"
	local keep=() p
	for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	PIDS=("${keep[@]}")
}

bench_cleanup() {
	local rc=$? pid ns pids
	trap - EXIT
	set +e
	for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
	# Whatever else still runs in our namespaces was started by this run too.
	for ns in "${NSS[@]}"; do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		for pid in $pids; do kill -KILL "$pid" 2>/dev/null; done
	done
	for ns in "${NSS[@]}"; do ip netns del "$ns" 2>/dev/null; done
	if [ "$rc" = 0 ]; then rm -rf "$TMP"; else printf '%s: logs kept in %s\n' "$BENCH_NAME" "$TMP" >&2; fi
	exit "$rc"
}

# bench_begin TMPTAG PREFIX : scratch directory, namespace prefix, teardown on exit.
bench_begin() {
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
	# shellcheck disable=SC2034 # P is for the script that sourced this
	P="$2$$-"
	NSS=()
	PIDS=()
	trap bench_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}
