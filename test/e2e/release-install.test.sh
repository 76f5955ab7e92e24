#!/usr/bin/env bash
# shellcheck disable=SC2317 # helpers are invoked through check/wait_for
# test/e2e/release-install.test.sh - the installer of a release, as an owner
# gets it: two real releases made by scripts/build/release.mjs (v0.1.0 and v0.2.0,
# mld-proxy for x64, signed with a key made for this run), served by a
# GitHub-like release server on 127.0.0.1 (latest/download answers 302 to
# download/<tag>; test/e2e/release-server.mjs), each scenario a repository of
# its own: good releases, a tampered asset, a download cut off half way, a
# signature by another key, an installer its SHA256SUMS does not list, an
# openssl-less gateway. Under busybox sh and dash:
# latest, pinned (UDM_PROXIES_VERSION and the versioned URL), upgrade from the
# older to the newer (config kept, the previous executable kept for rollback,
# the new installer checked by the installed release's key before it runs),
# and every refusal changes nothing. The fake root has no systemd, so the
# daemon runs in the installer's respawn loop.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=test/e2e/lib.sh
. test/e2e/lib.sh
# shellcheck source=test/e2e/fake-root.sh
. test/e2e/fake-root.sh
need_root
need_cmd busybox dash setsid sha256sum curl openssl node gzip

# The installer's daemons have $LAB_TMP in their command line (the fake roots
# are there): sweep_tmp_processes (test/lab/lib.sh) kills them on the way out.
at_exit sweep_tmp_processes

# The daemon waits for these; they must not exist.
IF_UP=udmtnowan0 IF_DOWN=udmtnolan0

# ---------------------------------------------------------------- two releases
openssl genpkey -algorithm ed25519 -out "$LAB_TMP/release.key" 2>/dev/null
openssl pkey -in "$LAB_TMP/release.key" -pubout -out "$LAB_TMP/release.pub"
openssl genpkey -algorithm ed25519 -out "$LAB_TMP/other.key" 2>/dev/null
make_release() { # VERSION
	node scripts/build/release.mjs --version "$1" --out "$LAB_TMP/rel/$1" --build "$LAB_TMP/build/$1" \
		--public-key "$LAB_TMP/release.pub" --target linux-x64 mld-proxy >"$LAB_TMP/release-$1.log" 2>&1 &&
		RELEASE_SIGNING_KEY=$(cat "$LAB_TMP/release.key") node scripts/build/sign-release.mjs "$LAB_TMP/rel/$1" >>"$LAB_TMP/release-$1.log" 2>&1
}
make_release v0.1.0 &
b1=$!
make_release v0.2.0 &
b2=$!
wait "$b1" || bail "make_release v0.1.0" "$(cat "$LAB_TMP/release-v0.1.0.log")"
wait "$b2" || bail "make_release v0.2.0" "$(cat "$LAB_TMP/release-v0.2.0.log")"
EXE1=$LAB_TMP/build/v0.1.0/mld-proxy-linux-x64
check "v0.1.0's executable says 0.1.0 and its commit" bash -c "'$EXE1' --version | grep -Eq '^mld-proxy 0\.1\.0 \(commit ([0-9a-f]{12}(-dirty)?|unknown), node '"
check "sign-release.mjs refuses a key other than the one install.sh embeds" \
	not env RELEASE_SIGNING_KEY="$(cat "$LAB_TMP/other.key")" node scripts/build/sign-release.mjs "$LAB_TMP/rel/v0.1.0"
check "the release printed the size of its asset" grep -Eq 'mld-proxy-linux-x64\.gz [0-9.]+ MiB \([0-9.]+ % of' "$LAB_TMP/release-v0.1.0.log"

# Scenarios, one repository each on the server: DIR/<repo>/<tag>/ and DIR/<repo>/latest.
SRV=$LAB_TMP/srv
publish() { # REPO TAG: copy the release TAG into REPO; it becomes the latest
	mkdir -p "$SRV/$1"
	[ -d "$SRV/$1/$2" ] || cp -a "$LAB_TMP/rel/$2" "$SRV/$1/$2"
	echo "$2" >"$SRV/$1/latest"
}
publish good v0.1.0
publish tampered v0.2.0
printf 'tampered' >>"$SRV/tampered/v0.2.0/mld-proxy-linux-x64.gz"
publish truncated v0.2.0
: >"$SRV/truncated/v0.2.0/mld-proxy-linux-x64.gz.truncate"
publish badsig v0.2.0
openssl pkeyutl -sign -inkey "$LAB_TMP/other.key" -rawin -in "$SRV/badsig/v0.2.0/SHA256SUMS" -out "$SRV/badsig/v0.2.0/SHA256SUMS.sig"
# An installer that is not the one SHA256SUMS lists (its first command leaves a mark).
publish evilinst v0.2.0
# shellcheck disable=SC2016 # the line is for the installer to expand
sed -i '2i touch "${ROOT:-}/pwned"' "$SRV/evilinst/v0.2.0/install.sh"

setsid node test/e2e/release-server.mjs "$SRV" "$LAB_TMP/port" >"$LAB_TMP/server.log" 2>&1 </dev/null &
bg_track "$!"
wait_for 5 "the release server listens on 127.0.0.1" test -s "$LAB_TMP/port"
HTTP=http://127.0.0.1:$(cat "$LAB_TMP/port")/udm-proxies
check "latest/download answers 302 to download/<tag>" \
	bash -c "curl -sI '$HTTP/good/releases/latest/download/install.sh' | tr -d '\r' | grep -qx 'Location: /udm-proxies/good/releases/download/v0.1.0/install.sh'"
check "a missing asset is 404" \
	bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' '$HTTP/good/releases/download/v0.1.0/nothing')\" = 404 ]"

# ---------------------------------------------------------------- fakes
FAKE_BIN=$LAB_TMP/bin
mkdir -p "$FAKE_BIN"
cat >"$FAKE_BIN/uname" <<'EOF'
#!/bin/sh
if [ "$*" = -m ]; then echo x86_64; else exec /bin/uname "$@"; fi
EOF
cat >"$FAKE_BIN/ubnt-device-info" <<'EOF'
#!/bin/sh
case $1 in model) echo "UniFi Dream Machine Pro" ;; firmware) echo 4.0.6.6754 ;; *) exit 1 ;; esac
EOF
chmod 755 "$FAKE_BIN"/*
# A gateway without openssl: every command of this machine but that one.
NOSSL_BIN=$LAB_TMP/nossl-bin
mkdir -p "$NOSSL_BIN"
for d in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
	for f in "$d"/*; do
		n=${f##*/}
		[ "$n" = openssl ] || [ -e "$NOSSL_BIN/$n" ] || ln -s "$f" "$NOSSL_BIN/$n"
	done
done

# ---------------------------------------------------------------- helpers
new_root() { # NAME
	R=$LAB_TMP/$1/root
	mkdir -p "$R/data" "$R/run" "$R/var/log" "$R/etc/systemd/system"
	EXE=$R/data/udm-proxies/mld-proxy/mld-proxy
	CONF=$R/data/udm-proxies/mld-proxy.conf
	MANAGER=$R/data/udm-proxies/udm-proxies
	PIDF=$R/run/mld-proxy.pid
}
# one_liner OUTFILE REPO PATH [VAR=value...] -- ARGS: curl -fsSL <PATH>/install.sh | sh -s -- ARGS,
# as the README has it, with UDM_PROXIES_REPO naming the scenario's repository.
one_liner() {
	local out=$1 repo=$2 from=$3 envs=() path=$FAKE_BIN:$PATH
	shift 3
	while [ "$1" != -- ]; do
		if [ "$1" = NO_OPENSSL ]; then path=$FAKE_BIN:$NOSSL_BIN; else envs+=("$1"); fi
		shift
	done
	shift
	# shellcheck disable=SC2086 # $SH is "busybox sh" or "dash"
	curl -fsSL "$HTTP/$repo/releases/$from/install.sh" |
		env PATH="$path" ROOT="$R" UDM_PROXIES_REPO="$HTTP/$repo" "${envs[@]}" $SH -s -- "$@" >"$out" 2>&1
}
manager() { # OUTFILE ARGS: the management script
	local out=$1
	shift
	run_sh "$out" -- "$MANAGER" "$@"
}
unpacked() { gzip -dc "$LAB_TMP/rel/$1/mld-proxy-linux-x64.gz"; }
is_release() { unpacked "$2" | cmp -s - "$1"; } # FILE TAG
has() { grep -qF -- "$2" "$1"; }
fetched() { grep -qF -- "GET /udm-proxies/$1 200" "$LAB_TMP/server.log"; }
# The PID file names a live daemon running this root's executable.
daemon_runs() {
	local d
	d=$(cat "$PIDF" 2>/dev/null) && [ -n "$d" ] && tr '\0' ' ' 2>/dev/null <"/proc/$d/cmdline" | grep -qF -- "$EXE "
}
# new_daemon OLD: the PID file names a live daemon other than OLD.
new_daemon() { daemon_runs && [ "$(cat "$PIDF")" != "$1" ]; }
snapshot() { (cd "$R" && find data etc -type f -not -path '*/.koffi-*' -print0 | sort -z | xargs -0r sha256sum) || true; }

# refused NAME OUTFILE TEXT: the run failed naming TEXT, and changed no file and no daemon.
refused() {
	local name=$1 out=$2 text=$3 rc=$4
	check "[$name] refused" test "$rc" != 0
	check "[$name] ... saying: $text" has "$out" "$text"
	snapshot >"$out.snap"
	check "[$name] ... changed no file" cmp "$SNAP" "$out.snap"
	check "[$name] ... left the daemon alone" test "$(cat "$PIDF" 2>/dev/null)" = "$PID"
}

# ---------------------------------------------------------------- the cases
suite() { # NAME SHELL
	local n=$1 o rc
	SH=$2
	o=$LAB_TMP/$n
	mkdir -p "$o"
	new_root "$n"
	echo v0.1.0 >"$SRV/good/latest"

	# latest: the one-liner of the README
	require "[$n] install the latest release (curl .../latest/download/install.sh | sh -s -- mld-proxy ...)" \
		one_liner "$o/1.txt" good latest/download -- mld-proxy "$IF_UP" "$IF_DOWN"
	check "[$n] the executable is v0.1.0's, unpacked" is_release "$EXE" v0.1.0
	check "[$n] its files came from download/v0.1.0, not from latest" fetched good/releases/download/v0.1.0/mld-proxy-linux-x64.gz
	check "[$n] checksums and signature verified" has_all "$o/1.txt" "checksums verified" "signature of SHA256SUMS verified"
	check "[$n] says what it installed" has "$o/1.txt" "installed mld-proxy 0.1.0 (commit "
	check "[$n] the config holds the arguments" has "$CONF" "ARGS=\"$IF_UP $IF_DOWN\""
	wait_for 5 "[$n] the daemon runs" daemon_runs
	PID=$(cat "$PIDF")

	check "[$n] udm-proxies status" manager "$o/status.txt" status mld-proxy
	check "[$n] status shows the installed version" has "$o/status.txt" "installed: mld-proxy 0.1.0 (commit "
	check "[$n] udm-proxies doctor" manager "$o/doctor.txt" doctor
	check "[$n] doctor shows the installed version" has "$o/doctor.txt" "installed: mld-proxy 0.1.0 (commit "

	# upgrade to a newer latest
	publish good v0.2.0
	sed -i 's/^FLAGS=""/FLAGS="--log-level debug"/' "$CONF"
	cp "$CONF" "$o/conf-edited"
	check "[$n] udm-proxies upgrade" manager "$o/2.txt" upgrade mld-proxy
	check "[$n] the install left the release's public key for upgrades" cmp "$R/data/udm-proxies/release-key.pem" "$LAB_TMP/release.pub"
	check "[$n] upgrade checked the new installer by that key" has "$o/2.txt" "its installer is signed by the installed release key"
	check "[$n] upgrade says from which version to which" \
		grep -Eq "upgraded mld-proxy from 0\.1\.0 \(commit [^)]*\) to 0\.2\.0 \(commit [^)]*\)" "$o/2.txt"
	check "[$n] upgrade installed v0.2.0" is_release "$EXE" v0.2.0
	check "[$n] upgrade kept v0.1.0 for rollback" is_release "$EXE.prev" v0.1.0
	check "[$n] upgrade kept the edited config" cmp "$CONF" "$o/conf-edited"
	wait_for 5 "[$n] upgrade restarted the daemon" new_daemon "$PID"
	PID=$(cat "$PIDF")
	check "[$n] upgrade again: already the latest" manager "$o/3.txt" upgrade mld-proxy
	check "[$n] ... says so" grep -Eq "mld-proxy 0\.2\.0 \(commit [^)]*\) is already installed" "$o/3.txt"
	check "[$n] ... and changed nothing" is_release "$EXE.prev" v0.1.0

	# upgrade refuses an installer that its release's signed SHA256SUMS does not vouch for
	snapshot >"$o/snap"
	SNAP=$o/snap
	rc=0 && run_sh "$o/3a.txt" UDM_PROXIES_REPO="$HTTP/evilinst" -- "$MANAGER" upgrade mld-proxy || rc=$?
	refused "$n: upgrade to an installer that is not the listed one" "$o/3a.txt" "install.sh does not match its signed SHA256SUMS" "$rc"
	check "[$n] ... and never ran it" test ! -e "$R/pwned"
	rc=0 && run_sh "$o/3b.txt" UDM_PROXIES_REPO="$HTTP/badsig" -- "$MANAGER" upgrade mld-proxy || rc=$?
	refused "$n: upgrade to a release signed by another key" "$o/3b.txt" "does not verify with the installed release key" "$rc"

	# pinned: by UDM_PROXIES_VERSION (the latest's installer hands over) and by the versioned URL
	check "[$n] UDM_PROXIES_VERSION=v0.1.0 with the latest's installer" \
		one_liner "$o/4.txt" good latest/download UDM_PROXIES_VERSION=v0.1.0 -- mld-proxy
	check "[$n] ... hands over to v0.1.0's installer, checked by its signature" \
		has_all "$o/4.txt" "fetching the installer of v0.1.0" "its installer is signed by the key in this one"
	check "[$n] ... installs v0.1.0" is_release "$EXE" v0.1.0
	check "[$n] ... saying from which version to which" grep -Eq "upgraded mld-proxy from 0\.2\.0 .* to 0\.1\.0 " "$o/4.txt"
	wait_for 5 "[$n] ... and restarts the daemon" new_daemon "$PID"
	check "[$n] the versioned URL .../download/v0.2.0/install.sh" one_liner "$o/5.txt" good download/v0.2.0 -- mld-proxy
	check "[$n] ... installs v0.2.0" is_release "$EXE" v0.2.0
	check "[$n] UDM_PROXIES_VERSION of no release refused" \
		not one_liner "$o/6.txt" good latest/download UDM_PROXIES_VERSION=9.9.9 -- mld-proxy
	check "[$n] ... naming it" has "$o/6.txt" "is v9.9.9 a release of"
	wait_for 5 "[$n] the daemon runs" daemon_runs
	PID=$(cat "$PIDF")

	# refusals: nothing changes
	snapshot >"$o/snap"
	SNAP=$o/snap
	rc=0 && one_liner "$o/7.txt" tampered latest/download -- mld-proxy || rc=$?
	refused "$n: tampered asset" "$o/7.txt" "checksum mismatch for mld-proxy-linux-x64.gz" "$rc"
	rc=0 && one_liner "$o/8.txt" truncated latest/download -- mld-proxy || rc=$?
	refused "$n: download cut off" "$o/8.txt" "cannot download $HTTP/truncated/releases/download/v0.2.0/mld-proxy-linux-x64.gz" "$rc"
	rc=0 && one_liner "$o/9.txt" badsig latest/download -- mld-proxy || rc=$?
	refused "$n: signature by another key" "$o/9.txt" "signature of $HTTP/badsig/releases/download/v0.2.0/SHA256SUMS does not verify" "$rc"
	rc=0 && one_liner "$o/10.txt" tampered latest/download NO_OPENSSL -- mld-proxy || rc=$?
	refused "$n: no openssl, tampered asset" "$o/10.txt" "checksum mismatch for mld-proxy-linux-x64.gz" "$rc"

	# no openssl: the checksums still hold, and it says the signature went unchecked
	check "[$n] no openssl: v0.1.0 installs" one_liner "$o/11.txt" good download/v0.1.0 NO_OPENSSL -- mld-proxy
	check "[$n] ... checked against the installer's checksums" has "$o/11.txt" "checksums verified"
	check "[$n] ... and says the signature was not checked" \
		has "$o/11.txt" "signature not checked: openssl is not installed; the files match the checksums in this installer (v0.1.0)"
	check "[$n] ... installed v0.1.0" is_release "$EXE" v0.1.0

	check "[$n] uninstall --purge" manager "$o/12.txt" uninstall mld-proxy --purge
	wait_for 5 "[$n] no daemon" not daemon_runs
	check "[$n] nothing left in /data" test -z "$(find "$R/data" -mindepth 1)"
}

suite busybox "busybox sh"
suite dash dash
check "the server saw no request for latest's assets but install.sh" \
	bash -c "! grep 'releases/latest/download/' '$LAB_TMP/server.log' | grep -v '/install.sh 302'"
finish
