#!/usr/bin/env bash
# Runs the unit tests (uvu) and every end-to-end test script in test/e2e/,
# then prints one closing line: "N passed, N failed".
# Usage: scripts/test.sh [--e2e-only] [--unit-only] [e2e-test-name...]
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

unit=1 e2e=1 only=()
for a in "$@"; do
  case "$a" in
    --e2e-only) unit=0 ;;
    --unit-only) e2e=0 ;;
    *) only+=("$a") ;;
  esac
done

passed=0 failed=0
log=$(mktemp); trap 'rm -f "$log"' EXIT

if [ "$unit" = 1 ]; then
  echo "== unit tests (uvu)"
  node_modules/.bin/uvu -r esbuild-register test '\.test\.ts$' -i e2e 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  p=$(sed -n 's/^ *Passed: *\([0-9]*\).*/\1/p' "$log" | tail -1)
  t=$(sed -n 's/^ *Total: *\([0-9]*\).*/\1/p' "$log" | tail -1)
  if [ -z "$t" ]; then
    echo "not ok - unit tests did not report a total (exit $rc)"; failed=$((failed + 1))
  else
    passed=$((passed + p)); failed=$((failed + t - p))
    [ "$rc" = 0 ] || [ "$t" != "$p" ] || { echo "not ok - uvu exited $rc"; failed=$((failed + 1)); }
  fi
fi

if [ "$e2e" = 1 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "not ok - end-to-end tests need root (network namespaces); run: sudo make test"
    failed=$((failed + 1))
  else
    for t in test/e2e/*.test.sh; do
      name=$(basename "$t" .test.sh)
      if [ "${#only[@]}" -gt 0 ] && [[ ! " ${only[*]} " == *" $name "* ]]; then continue; fi
      echo "== e2e: $name"
      bash "$t" 2>&1 | tee "$log"
      rc=${PIPESTATUS[0]}
      line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
      if [ -z "$line" ]; then
        echo "not ok - $name ended without a summary (exit $rc)"; failed=$((failed + 1))
        continue
      fi
      p=${line%% passed*}; f=${line#*, }; f=${f%% failed}
      passed=$((passed + p)); failed=$((failed + f))
      if [ "$rc" != 0 ] && [ "$f" = 0 ]; then echo "not ok - $name exited $rc"; failed=$((failed + 1)); fi
    done
  fi
fi

echo
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
