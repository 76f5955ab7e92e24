#!/usr/bin/env bash
# Runs the unit tests (uvu) and every end-to-end test script in test/e2e/,
# then prints the time each stage took and one closing line: "N passed, N failed".
# Usage: scripts/dev/test.sh [--e2e-only] [--unit-only] [e2e-test-name...]
#
# The device stage (test/e2e/device.test.sh, an arm64 VM) runs last, and its VM image
# (about 5 minutes of debootstrap under qemu-user when .cache/vm has none) is built
# in the background from the start, at the lowest CPU priority, while the other
# tests run; the device test waits for it (vm.sh holds a lock while building).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

unit=1 e2e=1 only=()
for a in "$@"; do
  case "$a" in
    --e2e-only) unit=0 ;;
    --unit-only) e2e=0 ;;
    *) only+=("$a") ;;
  esac
done

passed=0 failed=0 times=()
log=$(mktemp); prebuild_log=$(mktemp)
prebuild_pid=
# shellcheck disable=SC2317 # run by the trap
cleanup() {
  [ -z "$prebuild_pid" ] || kill -- -"$prebuild_pid" 2>/dev/null
  rm -f "$log" "$prebuild_log"
}
trap cleanup EXIT
now() { date +%s; }
t_all=$(now)

wanted() { [ "${#only[@]}" -eq 0 ] || [[ " ${only[*]} " == *" $1 "* ]]; }

# The device stage's image, built meanwhile (see above); its own test reports it.
if [ "$e2e" = 1 ] && [ "$(id -u)" = 0 ] && wanted device; then
  setsid nice -n 19 bash test/lab/vm/vm.sh --image >"$prebuild_log" 2>&1 &
  prebuild_pid=$!
fi

if [ "$unit" = 1 ]; then
  t0=$(now)
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
  times+=("unit $(($(now) - t0))")
fi

if [ "$e2e" = 1 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "not ok - end-to-end tests need root (network namespaces); run: sudo make test"
    failed=$((failed + 1))
  else
    # The device stage last: its image is built meanwhile.
    suites=()
    for t in test/e2e/*.test.sh; do [ "$t" = test/e2e/device.test.sh ] || suites+=("$t"); done
    suites+=(test/e2e/device.test.sh)
    for t in "${suites[@]}"; do
      name=$(basename "$t" .test.sh)
      wanted "$name" || continue
      t0=$(now)
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
      times+=("$name $(($(now) - t0))")
    done
  fi
fi

echo
echo "# time per stage (s): ${times[*]}; in all $(($(now) - t_all))"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
