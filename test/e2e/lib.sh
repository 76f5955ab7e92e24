# shellcheck shell=bash
# test/e2e/lib.sh - the end-to-end tests' results, on top of the lab (test/lab/lib.sh:
# namespaces, processes, waits, captures, teardown; read its header too).
#
# Source it from a test script that runs under `set -euo pipefail`:
#
#   . test/e2e/lib.sh
#   need_root; need_cmd ip tcpdump
#   ns_add a; nsx a ip link set lo up
#   check "lo is up" nsx a ip link show lo up
#   wait_for 5 "something appears" some_cmd args
#   finish                      # prints "N passed, N failed", exit 1 if any failed
#
# Results:  ok DESC | fail DESC [DETAILS] | check DESC CMD... | wait_for SECS DESC CMD...
#           check/wait_for always return 0 so they never trip `set -e`; the status of
#           the last one is in $E2E_LAST (0 = passed).  require/require_wait (the lab's
#           steps, also those of a topology) are the same but abort the script (bail)
#           on failure, for steps that later checks depend on.  bail DESC [DETAILS]
#           counts a failure and finishes.  need_root / need_cmd bail likewise.
# A script that ends without finish counts as a failure ("script aborted").
# Debug:    E2E_VERBOSE=1 prints "# ..." progress notes from note().

# shellcheck source=test/lab/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lab/lib.sh"

E2E_PASS=0
E2E_FAIL=0
# shellcheck disable=SC2034 # E2E_LAST is for the tests (the status of the last check)
E2E_LAST=0
E2E_FINISHED=0
E2E_ERR_CMD=

note() { if [ "${E2E_VERBOSE:-0}" = 1 ]; then printf '# %s\n' "$*"; fi; }

ok() {
	E2E_PASS=$((E2E_PASS + 1))
	# shellcheck disable=SC2034 # for the tests
	E2E_LAST=0
	printf 'ok - %s\n' "$1"
}

fail() {
	E2E_FAIL=$((E2E_FAIL + 1))
	# shellcheck disable=SC2034 # for the tests
	E2E_LAST=1
	printf 'not ok - %s\n' "$1"
	if [ $# -gt 1 ] && [ -n "$2" ]; then printf '%s\n' "$2" | tail -n 40 | lab_indent; fi
}

# check DESC CMD... : run CMD once; pass if it exits 0.
check() {
	local desc=$1
	shift
	if poll 0 "$@"; then ok "$desc"; else fail "$desc" "$(lab_why 0 "$@")"; fi
	return 0
}

# wait_for TIMEOUT_S DESC CMD... : poll CMD every 0.2 s until it exits 0.
wait_for() {
	local secs=$1 desc=$2
	shift 2
	if poll "$secs" "$@"; then ok "$desc"; else fail "$desc" "$(lab_why "$secs" "$@")"; fi
	return 0
}

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

_e2e_at_exit() {
	if [ "$E2E_FINISHED" -eq 0 ]; then
		E2E_FAIL=$((E2E_FAIL + 1))
		printf 'not ok - script aborted (exit %s)%s\n' "$LAB_STATUS" "${E2E_ERR_CMD:+ at: $E2E_ERR_CMD}"
		printf '%s passed, %s failed\n' "$E2E_PASS" "$E2E_FAIL"
		[ "$LAB_STATUS" -ne 0 ] || LAB_STATUS=1
	fi
}
at_exit _e2e_at_exit
trap 'E2E_ERR_CMD="line $LINENO: $BASH_COMMAND"' ERR
