#!/usr/bin/env bash
# make demo: each proxy's narrated demo, in network namespaces (as root).
set -euo pipefail
cd "$(dirname "$0")/.."
for demo in scripts/demo-*.sh; do
	[ "$demo" = scripts/demo-lib.sh ] && continue
	bash "$demo"
done
