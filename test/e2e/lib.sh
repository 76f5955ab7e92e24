# shellcheck shell=bash
# test/e2e/lib.sh - tiny harness for the end-to-end network lab tests.
#
# Source it from a test script that runs under `set -euo pipefail`:
#
#   . "$(dirname "$0")/lib.sh"
#   need_root; need_cmd ip tcpdump
#   ns_add a; nsx a ip link set lo up
#   check "lo is up" nsx a ip link show lo up
#   wait_for 5 "something appears" some_cmd args
#   finish                      # prints "N passed, N failed", exit 1 if any failed
#
# Results:  ok DESC | fail DESC [DETAILS] | check DESC CMD... | wait_for SECS DESC CMD...
#           check/wait_for always return 0 so they never trip `set -e`; the status of
#           the last one is in $E2E_LAST (0 = passed).  `require`/`require_wait` are
#           the same but abort the script (bail) on failure, for steps that later
#           checks depend on.  bail DESC [DETAILS] counts a failure and finishes.
# Namespaces: every namespace of this run is named "${E2E_PREFIX}NAME" (default prefix
#           udmt<pid>-) so parallel runs never clash.  ns_add NAME, nsx NAME CMD...,
#           ns_name NAME (prints the full name), ns_sysctl NAME key=val...,
#           bg_in NAME LOGFILE CMD... (background process in NAME, pid remembered; its
#           pid is left in $E2E_BG_PID), bg_stop PID.
#           On EXIT everything is torn down: tracked process groups are killed, then
#           any process still living in one of our namespaces, then the namespaces.
# Capture: cap_start LABEL NAME IFACE FILTER... / cap_stop LABEL / cap_count LABEL RE /
#           cap_seen LABEL RE / cap_show LABEL (tcpdump text output in $E2E_TMP).
#           not CMD... inverts a command for check/wait_for.
# Scratch:  $E2E_TMP is a per-run directory (logs, config files); it is removed on
#           success and kept (path printed) on failure or when E2E_KEEP=1.
# Debug:    E2E_VERBOSE=1 prints "# ..." progress notes from note().

E2E_PREFIX="${E2E_PREFIX:-udmt$$-}"
E2E_PASS=0
E2E_FAIL=0
E2E_LAST=0
E2E_FINISHED=0
E2E_NS=()
E2E_PIDS=()
E2E_BG_PID=
E2E_ERR_CMD=
E2E_TMP="$(mktemp -d "${TMPDIR:-/tmp}/udm-e2e.XXXXXX")"
export E2E_TMP

note() { if [ "${E2E_VERBOSE:-0}" = 1 ]; then printf '# %s\n' "$*"; fi; }

_e2e_indent() { sed 's/^/#   /'; }

ok() {
	E2E_PASS=$((E2E_PASS + 1))
	E2E_LAST=0
	printf 'ok - %s\n' "$1"
}

fail() {
	E2E_FAIL=$((E2E_FAIL + 1))
	E2E_LAST=1
	printf 'not ok - %s\n' "$1"
	if [ $# -gt 1 ] && [ -n "$2" ]; then printf '%s\n' "$2" | tail -n 40 | _e2e_indent; fi
}

# check DESC CMD... : run CMD once; pass if it exits 0.
check() {
	local desc=$1 out rc=0
	shift
	out=$("$@" 2>&1) || rc=$?
	if [ "$rc" -eq 0 ]; then
		ok "$desc"
	else
		fail "$desc" "$(printf 'command (exit %s): %s\n%s' "$rc" "$*" "$out")"
	fi
	return 0
}

# wait_for TIMEOUT_S DESC CMD... : poll CMD every 0.2 s until it exits 0.
wait_for() {
	local timeout=$1 desc=$2 out rc deadline
	shift 2
	deadline=$(($(date +%s%N) + $(awk -v t="$timeout" 'BEGIN { printf "%.0f", t * 1000000000 }')))
	while :; do
		rc=0
		out=$("$@" 2>&1) || rc=$?
		if [ "$rc" -eq 0 ]; then
			ok "$desc"
			return 0
		fi
		if [ "$(date +%s%N)" -ge "$deadline" ]; then
			fail "$desc" "$(printf 'timed out after %ss; last try (exit %s): %s\n%s' "$timeout" "$rc" "$*" "$out")"
			return 0
		fi
		sleep 0.2
	done
}

# Like check / wait_for, but abort the whole script if it fails.
require() { check "$@"; [ "$E2E_LAST" -eq 0 ] || bail "previous required step failed"; }
require_wait() { wait_for "$@"; [ "$E2E_LAST" -eq 0 ] || bail "previous required step failed"; }

bail() {
	fail "BAIL OUT: $1" "${2:-}"
	finish
}

# finish : print the closing line and exit (1 if anything failed).
finish() {
	E2E_FINISHED=1
	printf '%s passed, %s failed\n' "$E2E_PASS" "$E2E_FAIL"
	if [ "$E2E_FAIL" -gt 0 ]; then exit 1; fi
	exit 0
}

need_root() {
	if [ "$(id -u)" -ne 0 ]; then
		printf 'not ok - FAIL: %s must run as root (needs ip netns)\n' "$0"
		E2E_FAIL=$((E2E_FAIL + 1))
		finish
	fi
}

need_cmd() {
	local c missing=()
	for c in "$@"; do command -v "$c" >/dev/null 2>&1 || missing+=("$c"); done
	if [ "${#missing[@]}" -gt 0 ]; then
		printf 'not ok - FAIL: missing required command(s): %s\n' "${missing[*]}"
		E2E_FAIL=$((E2E_FAIL + 1))
		finish
	fi
}

# not CMD... : succeeds iff CMD fails (for check/wait_for).
not() { ! "$@"; }

# ---------------------------------------------------------------- namespaces

ns_name() { printf '%s%s' "$E2E_PREFIX" "$1"; }

ns_add() {
	local full
	full=$(ns_name "$1")
	ip netns add "$full"
	E2E_NS+=("$full")
	ip -n "$full" link set lo up
}

nsx() {
	local full
	full=$(ns_name "$1")
	shift
	ip netns exec "$full" "$@"
}

# ns_sysctl NAME key=value... (quiet; fails loudly if a key does not exist)
ns_sysctl() {
	local n=$1 kv
	shift
	for kv in "$@"; do nsx "$n" sysctl -qw "$kv" >/dev/null; done
}

# bg_in NAME LOGFILE CMD... : start CMD in namespace NAME in its own process group
# (setsid), stdout+stderr to LOGFILE.  The pid (== pgid) is stored in E2E_BG_PID
# and tracked for cleanup.  Do not call it in $(...) - the tracking would be lost.
bg_in() {
	local n=$1 log=$2 full
	shift 2
	full=$(ns_name "$n")
	setsid ip netns exec "$full" "$@" >"$log" 2>&1 </dev/null &
	E2E_BG_PID=$!
	E2E_PIDS+=("$E2E_BG_PID")
}

# bg_stop PID : stop a process started with bg_in (TERM, then KILL after 2 s).
bg_stop() {
	local pid=$1 _
	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	kill -KILL -- "-$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	local keep=() p
	for p in "${E2E_PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
	E2E_PIDS=("${keep[@]}")
}

# bg_alive PID : true while the process is running.
bg_alive() { kill -0 "$1" 2>/dev/null; }

# sweep_tmp_processes : kill every process with $E2E_TMP/ in its command line that
#   bg_in did not start (those are stopped at exit anyway): what a test's scripts
#   started under a fake root there, e.g. daemons run by an installer.
sweep_tmp_processes() {
	local f pid
	for f in /proc/[0-9]*/cmdline; do
		pid=${f#/proc/}
		pid=${pid%/cmdline}
		[ "$pid" != "$$" ] || continue
		[[ " ${E2E_PIDS[*]} " != *" $pid "* ]] || continue # lib.sh stops those
		if tr '\0' ' ' 2>/dev/null <"$f" | grep -qF -- "$E2E_TMP/"; then kill -KILL "$pid" 2>/dev/null || true; fi
	done
}

# ---------------------------------------------------------------- packet capture
# cap_start LABEL NAME IFACE [FILTER...] : tcpdump (text, -n) in namespace NAME on
#   IFACE into $E2E_TMP/cap-LABEL.txt; returns once tcpdump is listening.
# cap_stop LABEL                         : stop it (output is flushed).
# cap_count LABEL REGEX                  : print the number of captured lines matching.
# cap_seen LABEL REGEX                   : true if at least one line matches.
declare -A E2E_CAP=()
cap_start() {
	local label=$1 n=$2 ifc=$3 f _
	shift 3
	f="$E2E_TMP/cap-$label.txt"
	bg_in "$n" "$f" tcpdump -n -l --immediate-mode -i "$ifc" "$@"
	E2E_CAP[$label]=$E2E_BG_PID
	for _ in $(seq 1 50); do
		grep -q '^listening on' "$f" 2>/dev/null && return 0
		bg_alive "$E2E_BG_PID" || break
		sleep 0.1
	done
	printf '# tcpdump %s did not start:\n' "$label"
	_e2e_indent <"$f"
	return 1
}
cap_stop() {
	local pid=${E2E_CAP[$1]:-}
	if [ -n "$pid" ]; then
		sleep 0.2 # let in-flight packets reach tcpdump
		bg_stop "$pid"
	fi
	E2E_CAP[$1]=
}
cap_count() { grep -cE -- "$2" "$E2E_TMP/cap-$1.txt" || true; }
cap_seen() { grep -qE -- "$2" "$E2E_TMP/cap-$1.txt"; }
cap_show() { grep -vE '^(listening on|tcpdump: verbose|[0-9]+ packets)' "$E2E_TMP/cap-$1.txt" | _e2e_indent; }

_e2e_cleanup() {
	local rc=$? pid ns pids _
	trap - EXIT INT TERM
	set +e
	if [ "$E2E_FINISHED" -eq 0 ]; then
		E2E_FAIL=$((E2E_FAIL + 1))
		printf 'not ok - script aborted (exit %s)%s\n' "$rc" "${E2E_ERR_CMD:+ at: $E2E_ERR_CMD}"
		printf '%s passed, %s failed\n' "$E2E_PASS" "$E2E_FAIL"
		[ "$rc" -ne 0 ] || rc=1
	fi
	for pid in "${E2E_PIDS[@]}"; do
		kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
	done
	# Anything else still running inside one of our namespaces was started by us too.
	for ns in "${E2E_NS[@]}"; do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		# shellcheck disable=SC2086 # one pid per word
		[ -z "$pids" ] || kill -TERM $pids 2>/dev/null
	done
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		pids=
		for ns in "${E2E_NS[@]}"; do pids="$pids $(ip netns pids "$ns" 2>/dev/null)"; done
		[ -n "${pids// /}" ] || break
		sleep 0.2
	done
	for ns in "${E2E_NS[@]}"; do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		# shellcheck disable=SC2086 # one pid per word
		[ -z "$pids" ] || kill -KILL $pids 2>/dev/null
	done
	for pid in "${E2E_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
	for ns in "${E2E_NS[@]}"; do ip netns del "$ns" 2>/dev/null; done
	if [ "$E2E_FAIL" -gt 0 ] || [ "${E2E_KEEP:-0}" = 1 ]; then
		printf '# logs kept in %s\n' "$E2E_TMP"
	else
		rm -rf "$E2E_TMP"
	fi
	exit "$rc"
}

trap _e2e_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'E2E_ERR_CMD="line $LINENO: $BASH_COMMAND"' ERR
