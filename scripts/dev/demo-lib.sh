# shellcheck shell=bash
# scripts/dev/demo-lib.sh - narration for the demos, sourced after test/lab/lib.sh: a step the
# lab needs (require, require_wait) shows as "   ok: ..."; one that fails stops the demo
# with its reason (the lab's bail).

ok() { printf '   ok: %s\n' "$1"; }

if [ -t 1 ]; then B=$'\e[1m' N=$'\e[0m'; else B='' N=''; fi
section() { printf '\n%s==== %s%s\n' "$B" "$*" "$N"; }
say() { printf '%s\n' "$@" | fold -s -w 88; }
# shown NS CMD... : show a command as typed on that box.
shown() {
	local ns=$1
	shift
	printf '%s[%s]# %s%s\n' "$B" "$ns" "$*" "$N"
}
# run NS CMD... : show a command as typed on that box, then its output, indented.
run() {
	local ns=$1 rc=0 out
	shift
	shown "$ns" "$@"
	out=$(nsx "$ns" "$@" 2>&1) || rc=$?
	[ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/    /'
	return "$rc"
}
