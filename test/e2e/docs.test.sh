#!/usr/bin/env bash
# test/e2e/docs.test.sh - the docs cannot rot (issue 23): every option of each proxy's
# --help is in its page and every option a page names exists; the proxies' command lines
# in the docs' sh blocks go through the built executables' option parser, and the
# udm-proxies commands there are run against an empty fake root (test/e2e/docs-check.mjs).
#
# Run: test/e2e/docs.test.sh   (needs dist/*-linux-x64: make build; a few seconds)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=test/e2e/lib.sh
. "$here/lib.sh"
need_cmd node sh
out=$(node "$here/docs-check.mjs" 2>&1) || true
printf '%s\n' "$out"
E2E_PASS=$(grep -c '^ok - ' <<<"$out" || true)
E2E_FAIL=$(grep -c '^not ok - ' <<<"$out" || true)
[ "$E2E_PASS" -gt 0 ] || { E2E_FAIL=$((E2E_FAIL + 1)); echo "not ok - docs-check.mjs ran no check"; }
finish
