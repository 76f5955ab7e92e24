#!/bin/sh
# udm-proxies installer: installs or upgrades one proxy on a UniFi gateway.
#
#   curl -fsSL <repository>/releases/latest/download/install.sh | sh -s -- mld-proxy eth9 br0
#
#   install.sh <proxy> [proxy arguments...]
#
# A release's install.sh carries its release's version, the SHA-256 of each of
# its assets and the public key that signs its SHA256SUMS (written by `make
# release`): it fetches from its own release's folder, checks every file
# against those checksums (a mismatch changes nothing), and checks the Ed25519
# signature of SHA256SUMS with openssl when it can, saying so when it cannot.
# The repository's copy carries none of that and checks against the
# SHA256SUMS beside the files it fetches (make deploy).
#
# Environment:
#   UDM_PROXIES_VERSION  install this release (v0.2.0): its own installer does it
#   UDM_PROXIES_URL   a release's download folder to fetch from (a mirror, or
#                     `make release`'s dist/release served over HTTP)
#   UDM_PROXIES_FROM  a local directory holding the files instead (make deploy)
#   UDM_PROXIES_REPO  the repository the releases are under (default: the
#                     project's, from package.json); for a GitHub-like test server
#   ROOT              a root prefix for every path written; for the tests only
#
# Everything it writes (check-then-act, so running it again changes nothing):
#   /data/udm-proxies/<proxy>/<proxy>       the executable (<proxy>.prev: the one before)
#   /data/udm-proxies/<proxy>.conf          your settings; created only if absent
#   /data/on_boot.d/10-<proxy>.sh           keeps it running (from on_boot.d/10-proxy.sh.in)
#   /data/udm-proxies/udm-proxies           status, logs, doctor, repair, upgrade, uninstall...
#   /etc/systemd/system/udm-proxies-<proxy>.service   the unit that starts it at boot,
#       and its link in multi-user.target.wants/ (written by the on-boot script)
# All logic is in functions and main runs on the last line: a truncated
# download does nothing.
set -eu

# Filled in by the build (scripts/build/release-info.mjs): the repository, from
# package.json; for a release, its tag, the checksums of its assets and the
# key that signs its SHA256SUMS.
REPO_URL=''
RELEASE=''
RELEASE_SUMS=''
RELEASE_KEY=''

# Room kept free on /data besides the new executable.
SPARE_KB=8192

say() { printf 'udm-proxies: %s\n' "$*"; }
warn() { printf 'udm-proxies: WARNING: %s\n' "$*" >&2; }
die() {
	printf 'udm-proxies: ERROR: %s\n' "$*" >&2
	exit 1
}

usage() {
	cat <<EOF
Usage: install.sh <proxy> [proxy arguments...]
  curl -fsSL ${REPO_URL:-<repository>}/releases/latest/download/install.sh | sh -s -- mld-proxy eth9 br0
  UDM_PROXIES_VERSION=v0.2.0 installs that release instead of ${RELEASE:-the latest}.
Proxies: mld-proxy, ssdp-proxy, udp-proxy, udp-tunnel. The arguments are the proxy's own (see
'<proxy> --help'); they are saved in /data/udm-proxies/<proxy>.conf on the first
install, and an upgrade keeps that file as it is. Each proxy gets a systemd unit
that starts it at boot and after a crash; udm-boot is not needed.
EOF
}

parse_args() {
	while [ $# -gt 0 ]; do
		case $1 in
		--with-boot-service) say "--with-boot-service is no longer needed: every proxy gets a unit of its own" ;;
		-h | --help)
			usage
			exit 0
			;;
		-*) die "unknown option '$1'; run: install.sh --help" ;;
		*) break ;;
		esac
		shift
	done
	[ $# -gt 0 ] || {
		usage >&2
		die "no proxy named; for example: sh -s -- mld-proxy eth9 br0"
	}
	PROXY=$1
	shift
	case $PROXY in
	*[!a-z0-9-]* | -*) die "'$PROXY' is not a proxy name (lower-case letters, digits and '-'); run: install.sh --help" ;;
	esac
	# The arguments end up in a shell-sourced file between double quotes, one
	# word each: refuse anything that would need quoting there.
	PROXY_ARGS=''
	for _a in "$@"; do
		case $_a in
		'' | *[!A-Za-z0-9_./:@%+=,-]*) die "argument '$_a' has a character the config file cannot hold (allowed: letters, digits and _./:@%+=,-)" ;;
		esac
		PROXY_ARGS="${PROXY_ARGS:+$PROXY_ARGS }$_a"
	done
}

set_paths() {
	ROOT=${ROOT:-}
	case $ROOT in
	*[!A-Za-z0-9_./-]*) die "ROOT='$ROOT' must be a plain path (it is for tests only)" ;;
	esac
	DATA=$ROOT/data
	RUN=$ROOT/run
	LOGDIR=$ROOT/var/log
	BASE=$DATA/udm-proxies
	DIR=$BASE/$PROXY
	EXE=$DIR/$PROXY
	CONF=$BASE/$PROXY.conf
	BOOT_DIR=$DATA/on_boot.d
	BOOT_SCRIPT=$BOOT_DIR/10-$PROXY.sh
	MANAGER=$BASE/udm-proxies
	URL=${UDM_PROXIES_URL:-}
	URL=${URL%/}
	FROM=${UDM_PROXIES_FROM:-}
	REPO_URL=${UDM_PROXIES_REPO:-$REPO_URL}
	REPO_URL=${REPO_URL%/}
	PIN=${UDM_PROXIES_VERSION:-}
	case $PIN in '' | v*) ;; *) PIN=v$PIN ;; esac
	case $PIN in *[!0-9A-Za-z.+-]*) die "UDM_PROXIES_VERSION='$PIN' is not a release version (like v0.2.0)" ;; esac
	if [ -n "$PIN" ] && [ -n "$FROM$URL" ] && [ "$PIN" != "$RELEASE" ]; then
		die "UDM_PROXIES_VERSION=$PIN picks a release of $REPO_URL; it cannot be combined with UDM_PROXIES_URL or UDM_PROXIES_FROM, which name one folder"
	fi
}

preflight() {
	[ "$(id -u)" = 0 ] || die "must run as root (it writes to /data); log in as root on the gateway and run it again"

	_m=$(uname -m)
	case $_m in
	aarch64 | arm64) ARCH=linux-arm64 ;;
	x86_64 | amd64) ARCH=linux-x64 ;;
	*) die "this machine is '$_m'; the executables are built for aarch64 (UniFi gateways) and x86_64 only" ;;
	esac

	if command -v ubnt-device-info >/dev/null 2>&1; then
		_fw=$(ubnt-device-info firmware 2>/dev/null | head -n 1 || true)
		_major=${_fw%%.*}
		case $_major in
		'' | *[!0-9]*) warn "cannot read the firmware version ('$_fw' from ubnt-device-info firmware); going on" ;;
		*)
			[ "$_major" -ge 3 ] ||
				die "firmware $_fw is too old: UniFi OS 3 or newer is needed; update the gateway in UniFi Network, then run this again"
			;;
		esac
		say "gateway: $(ubnt-device-info model 2>/dev/null || echo unknown model), firmware ${_fw:-unknown}"
	else
		warn "ubnt-device-info not found: this does not look like a UniFi gateway; installing anyway"
	fi

	[ -d "$DATA" ] || die "$DATA does not exist: udm-proxies keeps everything in /data, which UniFi OS has and keeps across firmware updates"
	if [ -n "$FROM" ]; then
		[ -d "$FROM" ] || die "UDM_PROXIES_FROM=$FROM is not a directory"
	else
		command -v curl >/dev/null 2>&1 || command -v wget >/dev/null 2>&1 ||
			die "neither curl nor wget is installed; install one (apt-get install curl) and run this again"
	fi
	command -v sha256sum >/dev/null 2>&1 || die "sha256sum is missing; it is needed to verify the download (apt-get install coreutils)"
	command -v gzip >/dev/null 2>&1 || die "gzip is missing; it is needed to unpack the download (apt-get install gzip)"
}

make_tmp() {
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/udm-proxies.XXXXXX") || die "cannot create a temporary directory in ${TMPDIR:-/tmp}"
	trap 'rm -rf "$TMP"' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# get URL FILE: download URL into FILE.
get() {
	if command -v curl >/dev/null 2>&1; then
		curl -fsSL --retry 3 -o "$2" "$1"
	else
		wget -q -O "$2" "$1"
	fi
}

# fetch NAME: the release file NAME into $TMP/NAME.
fetch() {
	if [ -n "$FROM" ]; then
		[ -f "$FROM/$1" ] || die "$FROM/$1 is missing; copy it there (make deploy does) and run this again"
		cp "$FROM/$1" "$TMP/$1"
	else
		get "$SRC/$1" "$TMP/$1" ||
			die "cannot download $SRC/$1; check the gateway's internet access, or set UDM_PROXIES_URL to a mirror. Nothing was changed."
	fi
}

# can_verify: a key to check signatures with and an openssl that can (Ed25519
# with pkeyutl -rawin needs OpenSSL 1.1.1 or later); if not, WHY_NOT says why.
can_verify() {
	WHY_NOT=''
	if [ -z "$RELEASE_KEY" ]; then
		WHY_NOT="this installer carries no public key (it is not a signed release's)"
	elif ! command -v openssl >/dev/null 2>&1; then
		WHY_NOT="openssl is not installed"
	elif ! openssl pkeyutl -help 2>&1 | grep -q -- -rawin; then
		WHY_NOT="$(openssl version 2>&1) cannot check Ed25519 signatures (1.1.1 or later can)"
	fi
	[ -z "$WHY_NOT" ]
}

# signed SUMS SIG: SIG is a good signature of the file SUMS by RELEASE_KEY.
signed() {
	printf '%s\n' "$RELEASE_KEY" >"$TMP/release-key.pem"
	openssl pkeyutl -verify -pubin -inkey "$TMP/release-key.pem" -rawin -in "$1" -sigfile "$2" >/dev/null 2>&1
}

# sum_of NAME [FILE]: NAME's checksum in FILE (default: the list we check against).
sum_of() {
	awk -v n="$1" '$2 == n || $2 == "*" n { print $1; exit }' "${2:-$TMP/sums}"
}

# hand_over BASE WHAT ARGS...: run the installer in the release folder BASE
# (a pinned version's, or the latest's when this is no release's installer),
# checked first by this one's signing key when it can be, and exit with its
# status.
hand_over() {
	_base=$1 _what=$2
	shift 2
	[ -z "${UDM_PROXIES_HANDED_OVER:-}" ] ||
		die "$_base/install.sh is the installer of ${RELEASE:-no release}, not of $_what; nothing was changed. Report it."
	say "fetching the installer of $_what: $_base/install.sh"
	get "$_base/install.sh" "$TMP/install.sh" ||
		die "cannot download $_base/install.sh: is $_what a release of $REPO_URL? Nothing was changed."
	if can_verify; then
		{ get "$_base/SHA256SUMS" "$TMP/SHA256SUMS" && get "$_base/SHA256SUMS.sig" "$TMP/SHA256SUMS.sig"; } ||
			die "cannot download SHA256SUMS and SHA256SUMS.sig of $_what, to check its installer; nothing was changed"
		signed "$TMP/SHA256SUMS" "$TMP/SHA256SUMS.sig" ||
			die "the signature of $_what's SHA256SUMS does not verify with the key in this installer; nothing was changed"
		[ "$(sha256sum "$TMP/install.sh" | cut -d' ' -f1)" = "$(sum_of install.sh "$TMP/SHA256SUMS")" ] ||
			die "$_what's install.sh does not match its signed SHA256SUMS; nothing was changed"
		say "its installer is signed by the key in this one"
	else
		say "its installer is not checked: $WHY_NOT"
	fi
	_rc=0
	UDM_PROXIES_HANDED_OVER=1 UDM_PROXIES_REPO=$REPO_URL sh "$TMP/install.sh" "$@" || _rc=$?
	exit "$_rc"
}

# choose_source ARGS...: where the files come from, in SRC. A release's
# installer takes them from its own release's folder, never from "latest",
# which may move on while it runs; another version is installed by its own
# installer.
choose_source() {
	SRC=${FROM:-$URL}
	[ -z "$SRC" ] || return 0
	[ -n "$REPO_URL" ] ||
		die "this install.sh knows no repository to download from; use a release's installer (see the README), set UDM_PROXIES_URL to a release's download folder, or run make deploy"
	if [ -n "$PIN" ] && [ "$PIN" != "$RELEASE" ]; then
		hand_over "$REPO_URL/releases/download/$PIN" "$PIN" "$@"
	elif [ -z "$RELEASE" ]; then
		hand_over "$REPO_URL/releases/latest/download" "the latest release" "$@"
	fi
	SRC=$REPO_URL/releases/download/$RELEASE
}

# verify NAME: $TMP/NAME must match its line in the list we check against.
verify() {
	_want=$(sum_of "$1")
	_got=$(sha256sum "$TMP/$1" | cut -d' ' -f1)
	[ "$_got" = "$_want" ] ||
		die "checksum mismatch for $1 (got $_got, $SUMS_FROM says $_want): the download is corrupt or was tampered with. Nothing was changed; run this again, and report it if it persists."
}

# check_signature: SHA256SUMS.sig is a good signature, by the key this installer
# carries, of a SHA256SUMS that lists the very checksums it carries. Said aloud
# when it cannot be checked: then the checksums alone vouch for the files.
check_signature() {
	if ! can_verify; then
		say "signature not checked: $WHY_NOT; the files match the checksums in ${SUMS_FROM}"
		return 0
	fi
	fetch SHA256SUMS
	fetch SHA256SUMS.sig
	signed "$TMP/SHA256SUMS" "$TMP/SHA256SUMS.sig" ||
		die "the signature of $SRC/SHA256SUMS does not verify with the key in this installer: the release was changed after it was signed. Nothing was changed; report it."
	while read -r _sum _name; do
		[ "$(sum_of "$_name" "$TMP/SHA256SUMS")" = "$_sum" ] ||
			die "$_name: the signed SHA256SUMS and this installer disagree. Nothing was changed; report it."
	done <"$TMP/sums"
	say "signature of SHA256SUMS verified with the release key in this installer"
}

download() {
	if [ -n "$RELEASE_SUMS" ]; then
		printf '%s\n' "$RELEASE_SUMS" >"$TMP/sums"
		SUMS_FROM="this installer ($RELEASE)"
	else
		fetch SHA256SUMS
		cp "$TMP/SHA256SUMS" "$TMP/sums"
		SUMS_FROM="SHA256SUMS of $SRC"
	fi
	# A release has the executable gzipped; make deploy sends it as it is.
	ASSET=$PROXY-$ARCH.gz
	[ -n "$(sum_of "$ASSET")" ] || ASSET=$PROXY-$ARCH
	[ -n "$(sum_of "$ASSET")" ] ||
		die "$PROXY-$ARCH is not in ${SUMS_FROM}: is '$PROXY' a proxy of this release? Nothing was changed."
	say "getting $ASSET from $SRC"
	for _f in "$ASSET" 10-proxy.sh.in udm-proxies; do
		fetch "$_f"
		verify "$_f"
	done
	say "checksums verified"
	check_signature
}

# exe_bytes: the new executable on stdout, unpacked as it streams.
exe_bytes() {
	case $ASSET in
	*.gz) gzip -dc "$TMP/$ASSET" ;;
	*) cat "$TMP/$ASSET" ;;
	esac
}

# The unpacked size is counted as it streams, so nothing is written to /data
# before we know it fits.
check_space() {
	_need=$(($(exe_bytes | wc -c) / 1024 + SPARE_KB))
	_free=$(df -Pk "$DATA" | awk 'NR == 2 { print $4 }')
	[ "${_free:-0}" -ge "$_need" ] ||
		die "not enough room on /data: $_free KiB free, $_need KiB needed; free some (du -sh /data/*) and run this again"
}

# install_file SRC DEST MODE: copy through a temporary name, so DEST is always
# whole; do nothing when DEST already has the same bytes. Sets CHANGED=1 if written.
install_file() {
	if [ -f "$2" ] && cmp -s "$1" "$2"; then return 0; fi
	cp "$1" "$2.new"
	chmod "$3" "$2.new"
	mv -f "$2.new" "$2"
	CHANGED=1
}

# render TEMPLATE DEST: fill in the paths (ROOT included) and install it.
render() {
	sed -e "s|@PROXY@|$PROXY|g" -e "s|@EXE@|$EXE|g" -e "s|@CONF@|$CONF|g" \
		-e "s|@BOOT_SCRIPT@|$BOOT_SCRIPT|g" -e "s|@DATA@|$DATA|g" -e "s|@RUN@|$RUN|g" \
		-e "s|@LOG@|$LOGDIR|g" -e "s|@STATE_FLAGS@|$STATE_FLAGS|g" -e "s|@URL@|$URL|g" -e "s|@REPO@|$REPO_URL|g" -e "s|@ROOT@|$ROOT|g" \
		"$1" >"$TMP/rendered"
	install_file "$TMP/rendered" "$2" 755
}

# version_of EXE: "0.2.0 (commit 0123456789ab)" from what EXE --version says.
version_of() {
	_v=$("$1" --version 2>/dev/null | head -n 1) || true
	_c=$(printf '%s\n' "$_v" | sed -n 's/^[^ ]* [^ ]* (commit \([^,)]*\).*/ (commit \1)/p')
	_v=${_v#"$PROXY "}
	printf '%s%s\n' "${_v%% *}" "$_c"
}

install_executable() {
	mkdir -p "$DIR"
	OLD=''
	[ ! -f "$EXE" ] || OLD=$(version_of "$EXE")
	if [ -f "$EXE" ] && exe_bytes | cmp -s - "$EXE"; then
		say "$PROXY $OLD is already installed"
		return 0
	fi
	exe_bytes >"$EXE.new" || {
		rm -f "$EXE.new"
		die "cannot unpack $ASSET into $DIR. Nothing was changed."
	}
	chmod 755 "$EXE.new"
	# Run it before it replaces anything: a wrong architecture or C library
	# shows here, and the installed one stays.
	if ! VERSION=$("$EXE.new" --version 2>&1); then
		rm -f "$EXE.new"
		die "the new $PROXY does not run on this gateway: $VERSION. Nothing was changed."
	fi
	case $VERSION in
	"$PROXY "*) ;;
	*)
		rm -f "$EXE.new"
		die "the downloaded $ASSET says it is '$VERSION', not $PROXY. Nothing was changed."
		;;
	esac
	if [ -f "$EXE" ]; then
		mv -f "$EXE" "$EXE.prev"
		say "kept the previous executable as $EXE.prev (udm-proxies rollback $PROXY)"
	fi
	mv -f "$EXE.new" "$EXE"
	_now=$("$EXE" --version 2>&1) || _now="(failed: $_now)"
	if [ "$_now" != "$VERSION" ]; then
		[ ! -f "$EXE.prev" ] || mv -f "$EXE.prev" "$EXE"
		die "$EXE --version says '$_now' after install, '$VERSION' before; put the previous one back"
	fi
	if [ -n "$OLD" ]; then
		say "upgraded $PROXY from $OLD to $(version_of "$EXE") in $DIR"
	else
		say "installed $PROXY $(version_of "$EXE") in $DIR"
	fi
	CHANGED=1
}

# Proxies that can keep state across restarts get --state; the help says which.
detect_flags() {
	STATE_FLAGS=''
	if "$EXE" --help 2>&1 | grep -q -- '--state'; then STATE_FLAGS="--state $DIR/state.json"; fi
}

write_config() {
	if [ -f "$CONF" ]; then
		# shellcheck disable=SC1090 # the user's config
		. "$CONF" 2>/dev/null || warn "$CONF does not parse as sh; fix it"
		say "keeping your config $CONF (ARGS=\"${ARGS:-}\")"
		if [ -n "$PROXY_ARGS" ] && [ "$PROXY_ARGS" != "${ARGS:-}" ]; then
			warn "the arguments given ($PROXY_ARGS) differ from the config; an upgrade never overwrites it. To use them, edit $CONF and run: $MANAGER restart $PROXY"
		fi
		return 0
	fi
	[ -n "$PROXY_ARGS" ] ||
		die "no arguments for $PROXY and no config yet; name them, e.g.: sh -s -- $PROXY eth9 br0 (see: $EXE --help)"
	cat >"$CONF.new" <<EOF
# Settings of $PROXY, read by /data/on_boot.d/10-$PROXY.sh at every start.
# Upgrades keep this file; 'udm-proxies uninstall $PROXY --purge' removes it.
# After editing it run: /data/udm-proxies/udm-proxies restart $PROXY
# ARGS: the proxy's arguments, words separated by spaces (see: $EXE --help).
ARGS="$PROXY_ARGS"
# FLAGS: extra options, e.g. FLAGS="--log-level debug".
FLAGS=""
EOF
	mv -f "$CONF.new" "$CONF"
	say "wrote $CONF (ARGS=\"$PROXY_ARGS\")"
	CHANGED=1
}

# boot_note: where systemd does not run, nothing but an on-boot runner starts it.
boot_note() {
	[ ! -d "$RUN/systemd/system" ] || return 0
	warn "systemd is not running here: $PROXY runs in a respawn loop, and at boot only if something runs $BOOT_SCRIPT (udm-boot)"
}

install_boot_script() {
	if [ ! -d "$BOOT_DIR" ]; then
		mkdir -p "$BOOT_DIR"
		: >"$BASE/.created-on_boot.d"
	fi
	render "$TMP/10-proxy.sh.in" "$BOOT_SCRIPT"
	render "$TMP/udm-proxies" "$MANAGER"
	# The manager checks the installer of an upgrade with this release's key.
	if [ -n "$RELEASE_KEY" ]; then
		printf '%s\n' "$RELEASE_KEY" >"$TMP/key.pem"
		install_file "$TMP/key.pem" "$BASE/release-key.pem" 644
	fi
}

# start_proxy: after a change the on-boot script starts it anew; otherwise it only
# makes sure the unit is in place and the daemon runs (a running one is left alone).
start_proxy() {
	_how=restart
	if [ "$CHANGED" = 0 ]; then
		say "nothing changed"
		_how=start
	fi
	"$BOOT_SCRIPT" "$_how" </dev/null || die "$BOOT_SCRIPT $_how failed; see above and run: $MANAGER doctor"
}

main() {
	parse_args "$@"
	set_paths
	preflight
	make_tmp
	choose_source "$@"
	download
	check_space
	CHANGED=0
	mkdir -p "$BASE"
	install_executable
	detect_flags
	write_config
	install_boot_script
	boot_note
	start_proxy
	say "done. Status: $MANAGER status $PROXY   Logs: tail -f $LOGDIR/$PROXY.log"
}

main "$@"
