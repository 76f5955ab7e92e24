#!/usr/bin/env bash
# make fuzz: the property tests of every decoder, longer than in `make test` and from a
# new seed (printed first, so a failure can be replayed with `make fuzz SEED=N`).
# Usage: scripts/fuzz.sh   (env: SEED, FUZZ_RUNS: runs per property as a multiple of make test's)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

seed=${SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
runs=${FUZZ_RUNS:-40}
echo "== fuzz: seed $seed, $runs x the runs of make test (replay: make fuzz SEED=$seed)"
echo "== property tests"
FUZZ_SEED=$seed FUZZ_RUNS=$runs node_modules/.bin/uvu -r esbuild-register test 'properties\.test\.ts$' -i e2e
rc=$?
[ "$rc" = 0 ] || echo "not ok - property tests failed; replay: make fuzz SEED=$seed"
echo "== fuzz: seed $seed"
exit "$rc"
