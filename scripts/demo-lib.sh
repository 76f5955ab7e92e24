# shellcheck shell=bash
# scripts/demo-lib.sh - narration for the demos, sourced after test/e2e/lib.sh.

# Quieter results than the test harness's "ok - ..." lines.
ok() {
	E2E_PASS=$((E2E_PASS + 1))
	# shellcheck disable=SC2034 # read by lib.sh's require
	E2E_LAST=0
	printf '   ok: %s\n' "$1"
}

if [ -t 1 ]; then B=$'\e[1m' N=$'\e[0m'; else B='' N=''; fi
section() { printf '\n%s==== %s%s\n' "$B" "$*" "$N"; }
say() { printf '%s\n' "$@" | fold -s -w 88; }
# run NS CMD... : show a command as typed on that box, then its output, indented.
run() {
	local ns=$1 rc=0 out
	shift
	printf '%s[%s]# %s%s\n' "$B" "$ns" "$*" "$N"
	out=$(nsx "$ns" "$@" 2>&1) || rc=$?
	[ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/    /'
	return "$rc"
}
# demo_exe VAR PROXY : set VAR to this machine's build of PROXY in $root/dist; bail
#   (with the reason) when there is none.
demo_exe() {
	local arch
	case "$(uname -m)" in
	x86_64) arch=x64 ;;
	aarch64) arch=arm64 ;;
	*) bail "no $2 build for $(uname -m)" ;;
	esac
	# shellcheck disable=SC2154 # root: set by the demo that sources this
	printf -v "$1" '%s' "$root/dist/$2-linux-$arch"
	[ -x "${!1}" ] || bail "${!1} is missing" "build it first: make"
}
