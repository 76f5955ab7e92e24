#!/usr/bin/env bash
# shellcheck disable=SC2317 # helpers are invoked through check/require
# test/e2e/release.test.sh - `make release` from two clean clones of HEAD (in
# folders of different depth) gives the same SHA256SUMS, so anyone can rebuild
# a published release and compare. The release folder is what a web server
# serves: every proxy for both architectures gzipped (at most 40 % of the
# executable, no name or time in the gzip header), install.sh carrying the
# checksums of the assets it fetches, SHA256SUMS over all (signing and the
# installer's checks: release-install.test.sh). The clones reuse this tree's
# downloaded base binaries (.cache/pinned, .cache/stripped) and node_modules,
# hard-linked: the build, about a minute a clone, is the slow part.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=test/e2e/lib.sh
. test/e2e/lib.sh
need_cmd git node gzip sha256sum od make shellcheck
if [ ! -d .cache/pinned ] || [ ! -d node_modules ]; then bail "run make first: the clones reuse .cache/pinned and node_modules"; fi

# The repository URL lives in package.json; the README and docs/ may name it, but only as that.
repo=$(node -p 'const r = require("./package.json").repository; (r.url || r).replace(/^git\+/, "").replace(/\.git$/, "")')
# (release downloads and the `git clone` of the checking recipe; other projects' links are free)
# shellcheck disable=SC2016 # backquotes end a URL in Markdown
readme_urls=$({ grep -hoE 'https://[^ )`]*/releases/[^ )`]*' README.md docs/*.md || true; grep -hoE 'git clone https://[^ )`]*' README.md docs/*.md | sed 's/^git clone //' || true; } | sort -u)
check "the release URLs of the README and docs/ are package.json's repository ($repo)" \
	test -z "$(printf '%s\n' "$readme_urls" | grep -vE "^$repo(/releases/(latest/download|download/v[0-9][0-9A-Za-z.+-]*)/[A-Za-z0-9_.-]+)?$")"
check "the README and docs/ name the release URLs at all" test -n "$readme_urls"

# Hard links where the clone is on the same file system, a copy where it is not.
link() { cp -al "$1" "$2" 2>/dev/null || cp -a "$1" "$2"; }
clone() { # DIR
	git clone -q --no-local . "$1" &&
		mkdir -p "$1/.cache" && link .cache/pinned "$1/.cache/" &&
		{ [ ! -d .cache/stripped ] || link .cache/stripped "$1/.cache/"; } &&
		link node_modules "$1/"
}
A=$LAB_TMP/a
B=$LAB_TMP/clones/of/different/depth/b
require "clone HEAD" clone "$A"
require "clone HEAD again, deeper" clone "$B"
# Clone a runs the release workflow's own command, clone b the plain one.
version=$(node -p 'require("./package.json").version')
wf=$(sed -n 's/^ *run: \(make release.*\)$/\1/p' .github/workflows/release.yml)
check "release.yml makes the release with one make release line" test "$(printf '%s\n' "$wf" | grep -c '^make release')" = 1
# Both builds at once: nothing is shared but the hard-linked caches, which a build only
# reads, and on two cores it takes a minute less than one after the other.
(
	set +e
	bash -c "cd '$A' && GITHUB_REF_NAME=v$version $wf" >"$A.log" 2>&1
	echo $? >"$A.rc"
) &
build_a=$!
(
	set +e
	bash -c "cd '$B' && make -s release" >"$B.log" 2>&1
	echo $? >"$B.rc"
) &
wait "$build_a" $!
built() { [ "$(cat "$1.rc")" = 0 ] || { cat "$1.log"; return 1; }; } # CLONE
require "release.yml's \`$wf\` for tag v$version in a" built "$A"
require "make release in b, at the same time" built "$B"
R=$A/dist/release
check "the two clones give the same SHA256SUMS" diff "$R/SHA256SUMS" "$B/dist/release/SHA256SUMS"
check "SHA256SUMS verifies" bash -c "cd '$R' && sha256sum --quiet -c SHA256SUMS"

# Exactly the assets a release has.
want=(10-proxy.sh.in SHA256SUMS install.sh udm-proxies)
for f in src/bin/*.ts; do
	p=$(basename "$f" .ts)
	want+=("$p-linux-arm64.gz" "$p-linux-x64.gz")
done
files() { find "$R" -maxdepth 1 -type f -printf '%f\n' | sort | tr '\n' ' '; }
have=$(files)
check "the release holds exactly its assets" test "$have" = "$(printf '%s\n' "${want[@]}" | sort | tr '\n' ' ')"
check "SHA256SUMS lists every other file" test "$(awk '{print $2}' "$R/SHA256SUMS" | sort | tr '\n' ' ')" = "$(files | sed 's/SHA256SUMS //')"

# Each download at most 40 % of its executable; a gzip header with no file
# name (FLG bit 3) and no time (MTIME 0): bytes 3..7 are all zero.
for gz in "$R"/*.gz; do
	n=$(basename "$gz" .gz)
	exe=$A/dist/$n
	check "$n.gz is at most 40 % of the executable ($(awk -v g="$(stat -c %s "$gz")" -v e="$(stat -c %s "$exe")" 'BEGIN { printf "%.1f", 100 * g / e }') %)" \
		test $(($(stat -c %s "$gz") * 100)) -le $(($(stat -c %s "$exe") * 40))
	check "$n.gz unpacks to the executable" bash -c "gzip -dc '$gz' | cmp -s - '$exe'"
	check "$n.gz has no name or time in its header" test "$(od -An -tx1 -j3 -N5 "$gz" | tr -d ' \n')" = 0000000000
done
check "the build printed each asset's size" grep -Eq '^release  .*mld-proxy-linux-arm64\.gz [0-9.]+ MiB \([0-9.]+ % of [0-9.]+ MiB\)$' "$A.log"

# The installer carries the release's version and the checksums of what it fetches.
check "install.sh names its release (v$version)" grep -qx "RELEASE='v$version'" "$R/install.sh"
for f in "$R"/*.gz "$R/udm-proxies" "$R/10-proxy.sh.in"; do
	line=$(grep -F "  $(basename "$f")" "$R/SHA256SUMS")
	check "install.sh carries the checksum of $(basename "$f")" grep -qF "$line" "$R/install.sh"
done
check "install.sh passes shellcheck as sh" shellcheck -s sh "$R/install.sh"
commit=$(git -C "$A" rev-parse --short=12 HEAD)
check "the executables name the clone's commit ($commit)" bash -c "'$A/dist/mld-proxy-linux-x64' --version | grep -q '^mld-proxy $version (commit $commit, '"

# Release notes: the tag's section of CHANGELOG.md, only for package.json's version.
notes() { (cd "$B" && node scripts/build/release-notes.mjs "$@"); }
(cd "$B" && sed -i 's/"version": "[^"]*"/"version": "9.8.7"/' package.json &&
	printf '\n## [9.8.7] - 2026-01-01\n\n### Fixed\n\n- something an owner notices\n' >>CHANGELOG.md)
check "release notes: the tag's CHANGELOG.md section" bash -c "$(declare -f notes); B='$B'; notes v9.8.7 | grep -qx -- '- something an owner notices'"
check "release notes: a tag other than package.json's version is refused" not notes v9.8.8
(cd "$B" && sed -i 's/^## \[9.8.7\].*/## [9.8.6]/' CHANGELOG.md)
check "release notes: a version without a CHANGELOG.md section is refused" not notes v9.8.7

finish
