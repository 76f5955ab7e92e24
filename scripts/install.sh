#!/bin/sh
# udm-proxies installer: installs or upgrades one proxy on a UniFi gateway.
#
#   curl -fsSL https://github.com/udm-proxies/udm-proxies/releases/latest/download/install.sh |
#     sh -s -- mld-proxy eth9 br0
#
#   install.sh <proxy> [proxy arguments...]
#
# Environment:
#   UDM_PROXIES_URL   where to download from (default: the latest GitHub release)
#   UDM_PROXIES_FROM  a local directory holding the files instead (make deploy)
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

# Filled in by the build (scripts/release-info.mjs): the repository, from
# package.json; for a release, its tag, the checksums of its assets and the
# key that signs its SHA256SUMS.
# shellcheck disable=SC2034 # the installer reads them from the next commit on
REPO_URL=''
# shellcheck disable=SC2034
RELEASE=''
# shellcheck disable=SC2034
RELEASE_SUMS=''
# shellcheck disable=SC2034
RELEASE_KEY=''

DEFAULT_URL=https://github.com/udm-proxies/udm-proxies/releases/latest/download
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
  curl -fsSL $DEFAULT_URL/install.sh | sh -s -- mld-proxy eth9 br0
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
	URL=${UDM_PROXIES_URL:-$DEFAULT_URL}
	URL=${URL%/}
	FROM=${UDM_PROXIES_FROM:-}
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
}

make_tmp() {
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/udm-proxies.XXXXXX") || die "cannot create a temporary directory in ${TMPDIR:-/tmp}"
	trap 'rm -rf "$TMP"' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# fetch NAME: the release file NAME into $TMP/NAME.
fetch() {
	if [ -n "$FROM" ]; then
		[ -f "$FROM/$1" ] || die "$FROM/$1 is missing; copy it there (make deploy does) and run this again"
		cp "$FROM/$1" "$TMP/$1"
	elif command -v curl >/dev/null 2>&1; then
		curl -fsSL --retry 3 -o "$TMP/$1" "$URL/$1" ||
			die "cannot download $URL/$1; check the gateway's internet access, or set UDM_PROXIES_URL to a mirror"
	else
		wget -q -O "$TMP/$1" "$URL/$1" ||
			die "cannot download $URL/$1; check the gateway's internet access, or set UDM_PROXIES_URL to a mirror"
	fi
}

# verify NAME: $TMP/NAME must match its line in $TMP/SHA256SUMS.
verify() {
	_want=$(awk -v n="$1" '$2 == n || $2 == "*" n { print $1; exit }' "$TMP/SHA256SUMS")
	[ -n "$_want" ] || die "$1 is not listed in SHA256SUMS of ${FROM:-$URL}: is '$PROXY' a proxy of this release? Nothing was changed."
	_got=$(sha256sum "$TMP/$1" | cut -d' ' -f1)
	[ "$_got" = "$_want" ] ||
		die "checksum mismatch for $1 (got $_got, SHA256SUMS says $_want): the download is corrupt or was tampered with. Nothing was changed; run this again, and report it if it persists."
}

download() {
	ASSET=$PROXY-$ARCH
	src=${FROM:-$URL}
	say "getting $ASSET from $src"
	fetch SHA256SUMS
	for _f in "$ASSET" 10-proxy.sh.in udm-proxies; do
		fetch "$_f"
		verify "$_f"
	done
	say "checksums verified"
}

check_space() {
	_need=$(($(wc -c <"$TMP/$ASSET") / 1024 + SPARE_KB))
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
		-e "s|@LOG@|$LOGDIR|g" -e "s|@STATE_FLAGS@|$STATE_FLAGS|g" -e "s|@URL@|$URL|g" -e "s|@ROOT@|$ROOT|g" \
		"$1" >"$TMP/rendered"
	install_file "$TMP/rendered" "$2" 755
}

install_executable() {
	mkdir -p "$DIR"
	if [ -f "$EXE" ] && cmp -s "$TMP/$ASSET" "$EXE"; then
		VERSION=$("$EXE" --version)
		say "$VERSION is already installed"
		return 0
	fi
	cp "$TMP/$ASSET" "$EXE.new"
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
	say "installed $VERSION in $DIR"
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
