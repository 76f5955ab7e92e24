#!/usr/bin/env bash
# make fuzz: the property tests of every decoder, longer than in `make test` and from a
# new seed (printed first, so a failure can be replayed with `make fuzz SEED=N`), then the
# live flood of every running daemon (scripts/dev/fuzz/live.sh, as root, about 3 minutes).
# Usage: scripts/dev/fuzz.sh   (env: SEED; FUZZ_RUNS: runs per property as a multiple of
# make test's; FUZZ_LIVE=0 skips the live flood)
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

seed=${SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
runs=${FUZZ_RUNS:-20}
echo "== fuzz: seed $seed, $runs x the runs of make test (replay: make fuzz SEED=$seed)"
echo "== property tests"
FUZZ_SEED=$seed FUZZ_RUNS=$runs node_modules/.bin/uvu -r esbuild-register test 'properties\.test\.ts$' -i e2e
rc=$?
[ "$rc" = 0 ] || echo "not ok - property tests failed; replay: make fuzz SEED=$seed"
live=0
if [ "${FUZZ_LIVE:-1}" = 1 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "not ok - the live flood needs root (network namespaces); run: sudo make fuzz"
		live=1
	else
		SEED=$seed bash scripts/dev/fuzz/live.sh || live=$?
	fi
fi
echo "== fuzz: seed $seed"
[ "$rc" = 0 ] && [ "$live" = 0 ]
