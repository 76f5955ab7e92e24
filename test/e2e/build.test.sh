#!/usr/bin/env bash
# The build's promises: every proxy in src/bin/ has its bundle and both single
# executables in dist/, SHA256SUMS covers dist/, the same sources give the same
# bytes, and the arm64 executables need no more of libc/libstdc++ than
# Debian 11 (UniFi OS 3.x/4.x) provides.
# shellcheck disable=SC2317 # elf_ok and its helpers run through check
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/e2e/lib.sh
need_cmd node readelf sha256sum

# What UniFi OS 3.x/4.x (Debian 11) provides.
MAX_GLIBC=2.31 MAX_GLIBCXX=3.4.28 MAX_CXXABI=1.3.12

proxies=()
for f in src/bin/*.ts; do proxies+=("$(basename "$f" .ts)"); done
[ "${#proxies[@]}" -gt 0 ] || bail "no entries in src/bin/"

for p in "${proxies[@]}"; do
	for f in "$p.cjs" "$p-linux-x64" "$p-linux-arm64"; do
		check "dist/$f exists and is executable" test -x "dist/$f"
	done
	check "$p.cjs runs on this machine's node ($(node --version))" bash -c "node dist/$p.cjs --version | grep -q '^$p '"
	check "$p-linux-x64 runs and loads koffi" bash -c "dist/$p-linux-x64 --version | grep -Eq '^$p .*node 24\.'"
done

# Flags baked into the executables (scripts/build/build.mjs): mld-proxy trades the JIT for memory;
# the relaying proxies keep it.
check "mld-proxy-linux-x64 runs without the JIT (--jitless in its --version)" bash -c "dist/mld-proxy-linux-x64 --version | grep -q -- '--jitless'"
check "udp-proxy-linux-x64 keeps the JIT" bash -c "! dist/udp-proxy-linux-x64 --version | grep -q -- '--jitless'"

check "SHA256SUMS verifies" bash -c "cd dist && sha256sum --quiet -c SHA256SUMS"
listed=$(awk '{print $2}' dist/SHA256SUMS | sort | tr '\n' ' ')
present=$(cd dist && find . -maxdepth 1 -type f ! -name SHA256SUMS -printf '%f\n' | sort | tr '\n' ' ')
if [ "$listed" = "$present" ]; then ok "SHA256SUMS lists exactly the files in dist/"; else fail "SHA256SUMS lists exactly the files in dist/" "listed: $listed
present: $present"; fi

# Reproducible: a second build elsewhere gives the same bytes.
if node scripts/build/build.mjs --out "$LAB_TMP/dist2" >"$LAB_TMP/build2.log" 2>&1; then
	if diff dist/SHA256SUMS "$LAB_TMP/dist2/SHA256SUMS" >"$LAB_TMP/diff" 2>&1; then
		ok "a second build gives the same bytes"
	else
		fail "a second build gives the same bytes" "$(cat "$LAB_TMP/diff")"
	fi
else
	fail "a second build gives the same bytes" "$(cat "$LAB_TMP/build2.log")"
fi

# Highest symbol version an ELF file needs from a family (GLIBC, GLIBCXX, CXXABI).
needs() { readelf -V --wide "$1" | grep -oE "\b$2_[0-9]+(\.[0-9]+)*\b" | sed "s/^$2_//" | sort -V | tail -1; }
# version_le A B: A <= B
version_le() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -1)" = "$1" ]; }
elf_ok() {
	local f=$1 fam max need
	for fam in GLIBC GLIBCXX CXXABI; do
		max=MAX_$fam; need=$(needs "$f" "$fam")
		[ -z "$need" ] && continue
		if ! version_le "$need" "${!max}"; then echo "$f needs ${fam}_$need > ${fam}_${!max}"; return 1; fi
		echo "$f: ${fam}_$need"
	done
}
for p in "${proxies[@]}"; do
	check "$p-linux-arm64 needs at most GLIBC_$MAX_GLIBC, GLIBCXX_$MAX_GLIBCXX, CXXABI_$MAX_CXXABI" elf_ok "dist/$p-linux-arm64"
done
koffi_arm64=$(find .cache/pinned -path '*koffi-linux-arm64*' -name koffi.node | head -1)
if [ -n "$koffi_arm64" ]; then
	check "the embedded arm64 koffi.node needs at most Debian 11's libc/libstdc++" elf_ok "$koffi_arm64"
else
	fail "the embedded arm64 koffi.node is in .cache/pinned"
fi

finish
