#!/usr/bin/env bash
# make demo: each proxy's narrated demo, in network namespaces (as root), each under
# a banner naming the proxy (their sections all start again at "1. The network").
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -t 1 ]; then B=$'\e[1m' N=$'\e[0m'; else B='' N=''; fi
for demo in scripts/dev/demo-*.sh; do
	[ "$demo" = scripts/dev/demo-lib.sh ] && continue
	name=${demo#scripts/dev/demo-}
	printf '\n%s######## %s ########%s\n' "$B" "${name%.sh}" "$N"
	bash "$demo"
done
