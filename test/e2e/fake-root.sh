# shellcheck shell=bash
# test/e2e/fake-root.sh - for the installer tests: run a script of ours (the installer,
# the management script, an on-boot script) as on a gateway whose root is $R, with the
# test's fake commands first on PATH ($FAKE_BIN) and under the shell in $SH
# ("busybox sh" or "dash"), and check what it said.

# run_sh OUTFILE [VAR=value...] -- ARGS... : ARGS under $SH, output in OUTFILE; the exit
# status is that of the script.
run_sh() {
	local out=$1 envs=()
	shift
	while [ "$1" != -- ]; do
		envs+=("$1")
		shift
	done
	shift
	# shellcheck disable=SC2086 # $SH is "busybox sh" or "dash"
	env PATH="$FAKE_BIN:$PATH" ROOT="$R" "${envs[@]}" $SH "$@" >"$out" 2>&1
}

# has_all FILE TEXT... : FILE holds every TEXT (the first missing one is named).
has_all() { # FILE TEXT...
	local f=$1 w
	shift
	for w in "$@"; do grep -qF -- "$w" "$f" || {
		echo "missing: $w"
		return 1
	}; done
}
