# shellcheck shell=bash
# test/lab/lib.sh - the network lab that the end-to-end tests, the demos, the benches and
# `make lab` all build on: network namespaces of this run, processes started in them and
# stopped by PID, waits with time limits, packet captures, and teardown on any exit.
# A topology file (test/lab/<scenario>.sh) is sourced after this one.
#
# Run:        every namespace of this run is named "${LAB_PREFIX}NAME" (default udmt<pid>-;
#             E2E_PREFIX, its older name, is honoured) so parallel runs never clash.
#             $LAB_TMP is this run's scratch directory (logs, configs, sockets): removed
#             at exit, kept (path printed) when the run fails or LAB_KEEP=1.
# Namespaces: ns_add NAME, nsx NAME CMD..., ns_name NAME (the full name),
#             ns_sysctl NAME key=value...
# Processes:  bg_in NAME LOGFILE CMD... starts CMD in namespace NAME in a session of its
#             own; its pid is in $LAB_BG_PID; LOGFILE is empty when it returns.
#             bg_track PID: stop that one at exit too.
#             bg_stop PID (TERM to its group, KILL after 3 s), bg_alive PID.
#             sweep_tmp_processes kills what has $LAB_TMP/ in its command line.
# Waits:      poll SECS CMD... (0 when CMD succeeded within SECS, every 0.2 s; the last
#             try's output in $LAB_OUT, its status in $LAB_RC); wait_until SECS WHAT CMD...
#             dies when it never does. not CMD... inverts CMD.
# Steps:      require DESC CMD... / require_wait SECS DESC CMD...: a step the lab cannot
#             do without. It reports through ok DESC and bail DESC DETAILS, which the
#             sourcing script may redefine: here ok is silent and bail dies; the e2e
#             harness (test/e2e/lib.sh) counts them as tests, a demo narrates them.
#             need_root, need_cmd CMD... bail likewise.
# Capture:    cap_start LABEL NAME IFACE [FILTER...] (tcpdump -n, text, in
#             $LAB_TMP/cap-LABEL.txt; returns once it listens), cap_stop LABEL,
#             cap_count LABEL REGEX, cap_seen LABEL REGEX, cap_show LABEL.
# Daemons:    daemon_start NS NAME DESC EXE ARGS... starts one of our proxies and waits
#             (a step, DESC) until its status answers on $LAB_TMP/NAME.sock.
# Exit:       at_exit FUNC runs FUNC first at teardown ($LAB_STATUS is the exit status,
#             which it may change); then tracked processes, whatever still runs in our
#             namespaces, and the namespaces themselves go.
# Builds:     lab_exe VAR PROXY sets VAR to this machine's dist/PROXY-linux-<arch>.

LAB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB_PREFIX="${LAB_PREFIX:-${E2E_PREFIX:-udmt$$-}}"
LAB_TMP="$(mktemp -d "${TMPDIR:-/tmp}/udm-lab.XXXXXX")"
export LAB_TMP
LAB_NS=()
LAB_PIDS=()
LAB_BG_PID=
LAB_OUT=
LAB_RC=0
LAB_STATUS=0
LAB_AT_EXIT=()

# die MESSAGE : for a lab that cannot go on (a bench, `make lab`).
die() {
	printf '%s: ERROR: %s\n' "${0##*/}" "$*" >&2
	exit 1
}

lab_indent() { sed 's/^/#   /'; }

# Defaults for the step reports; test/e2e/lib.sh and the demos redefine them.
ok() { :; }
bail() {
	printf '%s: ERROR: %s\n' "${0##*/}" "$1" >&2
	if [ $# -gt 1 ] && [ -n "$2" ]; then printf '%s\n' "$2" | tail -n 40 | lab_indent >&2; fi
	exit 1
}

need_root() {
	[ "$(id -u)" -eq 0 ] || bail "$0 must run as root (needs ip netns)"
}

need_cmd() {
	local c missing=()
	for c in "$@"; do command -v "$c" >/dev/null 2>&1 || missing+=("$c"); done
	[ "${#missing[@]}" -eq 0 ] || bail "missing required command(s): ${missing[*]}" \
		"scripts/dev/setup.sh installs them (make setup; sh scripts/dev/setup.sh --bench for the benches)"
}

# ---------------------------------------------------------------- waits

# poll SECS CMD... : run CMD every 0.2 s until it exits 0 (return 0) or SECS have passed
# (return 1; with SECS 0, CMD runs once). $LAB_OUT and $LAB_RC: the last try's.
poll() {
	local deadline
	deadline=$(($(date +%s%N) + $(awk -v t="$1" 'BEGIN { printf "%.0f", t * 1000000000 }')))
	shift
	while :; do
		LAB_RC=0
		LAB_OUT=$("$@" 2>&1) || LAB_RC=$?
		[ "$LAB_RC" -ne 0 ] || return 0
		[ "$(date +%s%N)" -lt "$deadline" ] || return 1
		sleep 0.2
	done
}

# wait_until SECS WHAT CMD... : poll CMD; die "timed out waiting for WHAT" if it never succeeds.
wait_until() {
	local secs=$1 what=$2
	shift 2
	poll "$secs" "$@" || die "timed out waiting for $what"
}

# not CMD... : succeeds iff CMD fails (for polls and steps).
not() { ! "$@"; }

# Why a poll failed, for a report.
lab_why() { # SECS CMD...
	local secs=$1
	shift
	if [ "$secs" = 0 ]; then
		printf 'command (exit %s): %s\n%s' "$LAB_RC" "$*" "$LAB_OUT"
	else
		printf 'timed out after %ss; last try (exit %s): %s\n%s' "$secs" "$LAB_RC" "$*" "$LAB_OUT"
	fi
}

# require DESC CMD... / require_wait SECS DESC CMD... : a step the lab needs.
require() {
	local desc=$1
	shift
	if poll 0 "$@"; then ok "$desc"; else bail "$desc" "$(lab_why 0 "$@")"; fi
}
require_wait() {
	local secs=$1 desc=$2
	shift 2
	if poll "$secs" "$@"; then ok "$desc"; else bail "$desc" "$(lab_why "$secs" "$@")"; fi
}

# ---------------------------------------------------------------- namespaces

ns_name() { printf '%s%s' "$LAB_PREFIX" "$1"; }

ns_add() {
	local full
	full=$(ns_name "$1")
	ip netns add "$full"
	LAB_NS+=("$full")
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

# ---------------------------------------------------------------- processes

# bg_in NAME LOGFILE CMD... : CMD in namespace NAME in its own session (setsid; setsid and
# `ip netns exec` exec, so the pid is CMD's own and leads its process group), stdout and
# stderr to LOGFILE. The pid is in $LAB_BG_PID and stopped at exit. Not in $(...): the
# tracking would be lost. LOGFILE is emptied before bg_in returns, so a wait for a line
# in it (a helper's "ready") never sees what an earlier process wrote there.
bg_in() {
	local n=$1 log=$2 full
	shift 2
	full=$(ns_name "$n")
	# Emptied here, not by the child's own redirection: that runs only once the forked
	# child is scheduled, which on a busy machine can be after the caller has read LOGFILE.
	: >"$log"
	setsid ip netns exec "$full" "$@" >>"$log" 2>&1 </dev/null &
	LAB_BG_PID=$!
	LAB_PIDS+=("$LAB_BG_PID")
}

# bg_track PID : a process started otherwise, to stop at exit too.
bg_track() { LAB_PIDS+=("$1"); }

# bg_stop PID : TERM to its process group, up to 3 s to exit, then KILL; forgotten after.
bg_stop() {
	local pid=$1 _ keep=() p
	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 30); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	for p in "${LAB_PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
	LAB_PIDS=("${keep[@]}")
}

bg_alive() { kill -0 "$1" 2>/dev/null; }

# sweep_tmp_processes : kill every process with $LAB_TMP/ in its command line that bg_in
#   did not start (those are stopped at exit anyway): what a test's scripts started under
#   a fake root there, e.g. daemons run by an installer.
sweep_tmp_processes() {
	local f pid
	for f in /proc/[0-9]*/cmdline; do
		pid=${f#/proc/}
		pid=${pid%/cmdline}
		[ "$pid" != "$$" ] || continue
		[[ " ${LAB_PIDS[*]} " != *" $pid "* ]] || continue # stopped at exit
		if tr '\0' ' ' 2>/dev/null <"$f" | grep -qF -- "$LAB_TMP/"; then kill -KILL "$pid" 2>/dev/null || true; fi
	done
}

# daemon_start NS NAME DESC EXE ARGS... : EXE ARGS... in the background in namespace NS
#   (output in $LAB_TMP/NAME.out; ARGS name the control socket $LAB_TMP/NAME.sock); the
#   step DESC holds once `EXE status` answers on that socket (10 s). Pid in $LAB_BG_PID.
daemon_start() {
	local ns=$1 name=$2 desc=$3 exe=$4
	shift 3
	bg_in "$ns" "$LAB_TMP/$name.out" "$@"
	require_wait 10 "$desc" nsx "$ns" "$exe" status --control-socket "$LAB_TMP/$name.sock"
}

# lab_exe VAR PROXY : set VAR to this machine's build of PROXY in dist/; bail (with the
#   reason) when there is none.
lab_exe() {
	local arch
	case "$(uname -m)" in
	x86_64) arch=x64 ;;
	aarch64) arch=arm64 ;;
	*) bail "no $2 build for $(uname -m)" ;;
	esac
	printf -v "$1" '%s' "$LAB_ROOT/dist/$2-linux-$arch"
	[ -x "${!1}" ] || bail "${!1} is missing" "build it first: make"
}

# ---------------------------------------------------------------- packet capture

declare -A LAB_CAP=()
cap_start() {
	local label=$1 n=$2 ifc=$3 f _
	shift 3
	f="$LAB_TMP/cap-$label.txt"
	bg_in "$n" "$f" tcpdump -n -l --immediate-mode -i "$ifc" "$@"
	LAB_CAP[$label]=$LAB_BG_PID
	for _ in $(seq 1 50); do
		# "listening on", or with -v "tcpdump: listening on"
		grep -qE '^(tcpdump: )?listening on' "$f" 2>/dev/null && return 0
		bg_alive "$LAB_BG_PID" || break
		sleep 0.1
	done
	printf '# tcpdump %s did not start:\n' "$label"
	lab_indent <"$f"
	return 1
}
cap_stop() {
	local pid=${LAB_CAP[$1]:-}
	if [ -n "$pid" ]; then
		sleep 0.2 # let in-flight packets reach tcpdump
		bg_stop "$pid"
	fi
	LAB_CAP[$1]=
}
cap_count() { grep -cE -- "$2" "$LAB_TMP/cap-$1.txt" || true; }
cap_seen() { grep -qE -- "$2" "$LAB_TMP/cap-$1.txt"; }
cap_show() { grep -vE '^((tcpdump: )?listening on|tcpdump: verbose|[0-9]+ packets)' "$LAB_TMP/cap-$1.txt" | lab_indent; }

# ---------------------------------------------------------------- teardown

at_exit() { LAB_AT_EXIT+=("$1"); }

lab_teardown() {
	LAB_STATUS=$?
	local f pid ns pids _
	trap - EXIT INT TERM
	set +e
	for f in "${LAB_AT_EXIT[@]}"; do "$f"; done
	for pid in "${LAB_PIDS[@]}"; do
		kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
	done
	# Anything else still running inside one of our namespaces was started by us too.
	for ns in "${LAB_NS[@]}"; do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		# shellcheck disable=SC2086 # one pid per word
		[ -z "$pids" ] || kill -TERM $pids 2>/dev/null
	done
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		pids=
		for ns in "${LAB_NS[@]}"; do pids="$pids $(ip netns pids "$ns" 2>/dev/null)"; done
		[ -n "${pids// /}" ] || break
		sleep 0.2
	done
	for ns in "${LAB_NS[@]}"; do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		# shellcheck disable=SC2086 # one pid per word
		[ -z "$pids" ] || kill -KILL $pids 2>/dev/null
	done
	for pid in "${LAB_PIDS[@]}"; do
		kill -KILL -- "-$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	for ns in "${LAB_NS[@]}"; do ip netns del "$ns" 2>/dev/null; done
	if [ "$LAB_STATUS" -ne 0 ] || [ "${LAB_KEEP:-${E2E_KEEP:-0}}" = 1 ]; then
		printf '# logs kept in %s\n' "$LAB_TMP"
	else
		rm -rf "$LAB_TMP"
	fi
	exit "$LAB_STATUS"
}

trap lab_teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
