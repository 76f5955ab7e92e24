#!/usr/bin/env bash
# shellcheck disable=SC2317 # helpers are invoked through check/wait_for
# test/e2e/install.test.sh - the installer, the on-boot script and the management
# script, in a fake root ($ROOT) with fake ubnt-device-info, uname and systemctl
# first on PATH (they record their arguments), the release served by busybox httpd
# on 127.0.0.1. Every case runs under busybox sh and under dash: busybox sh with
# "systemd" (a fake systemctl that really starts the unit's ExecStart) and udm-boot
# present, dash without either (respawn loop). The real systemd, reboots and
# firmware updates are the device test's (test/e2e/device.test.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=test/e2e/lib.sh
. test/e2e/lib.sh
# shellcheck source=test/e2e/fake-root.sh
. test/e2e/fake-root.sh
need_root
need_cmd busybox dash setsid sha256sum curl

DIST_EXE=dist/mld-proxy-linux-x64
[ -x "$DIST_EXE" ] || bail "$DIST_EXE is missing; run make first"
# The daemon waits for these; they must not exist.
IF_UP=udmtnowan0 IF_DOWN=udmtnolan0

# Every process this test starts has $LAB_TMP in its command line (the fake root
# is there): sweep_tmp_processes (test/lab/lib.sh) kills them all on the way out,
# then the lab cleans up the rest.
at_exit sweep_tmp_processes

# ---------------------------------------------------------------- fakes
FAKE_BIN=$LAB_TMP/bin
mkdir -p "$FAKE_BIN"
cat >"$FAKE_BIN/uname" <<'EOF'
#!/bin/sh
echo "uname $*" >>"$FAKE_CALLS"
if [ "$*" = -m ]; then echo "${FAKE_ARCH:-x86_64}"; else exec /bin/uname "$@"; fi
EOF
cat >"$FAKE_BIN/ubnt-device-info" <<'EOF'
#!/bin/sh
echo "ubnt-device-info $*" >>"$FAKE_CALLS"
case $1 in
model) echo "UniFi Dream Machine Pro" ;;
firmware) echo "${FAKE_FIRMWARE:-4.0.6.6754}" ;;
*) exit 1 ;;
esac
EOF
# iptables-legacy (ip6tables-legacy too): a table with what $FAKE_FW holds: a file
# chain-NAME for a chain, jump-NAME for a jump to it from INPUT (one left by a kill -9).
cat >"$FAKE_BIN/iptables-legacy" <<'EOF'
#!/bin/sh
echo "${0##*/} $*" >>"$FAKE_CALLS"
[ "${0##*/}" = iptables-legacy ] || exit 1
[ "$1" = -w ] && shift 2
eval "chain=\${$#}"
case $1 in
-S | -F) test -e "$FAKE_FW/chain-$2" ;;
-D) test -e "$FAKE_FW/jump-$chain" && rm "$FAKE_FW/jump-$chain" ;;
-X) rm "$FAKE_FW/chain-$2" ;;
*) exit 2 ;;
esac
EOF
ln -s iptables-legacy "$FAKE_BIN/ip6tables-legacy"
FAKE_FW=$LAB_TMP/fw
mkdir -p "$FAKE_FW"
export FAKE_FW
# systemctl: start runs the unit file's ExecStart in its own session and remembers
# it by unit; stop, restart and is-active act on that; the rest is recorded only.
cat >"$FAKE_BIN/systemctl" <<'EOF'
#!/bin/sh
echo "systemctl $*" >>"$FAKE_CALLS"
alive() {
	pid=$(cat "$FAKE_UNITS/$1.pid" 2>/dev/null) && [ -n "$pid" ] &&
		[ -r "/proc/$pid/cmdline" ] && [ -n "$(tr -d '\0' <"/proc/$pid/cmdline")" ]
}
stop() {
	pid=$(cat "$FAKE_UNITS/$1.pid" 2>/dev/null || true)
	rm -f "$FAKE_UNITS/$1.pid"
	if [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; then
		n=0
		while [ -r "/proc/$pid/cmdline" ] && [ -n "$(tr -d '\0' <"/proc/$pid/cmdline")" ] && [ $n -lt 50 ]; do
			sleep 0.1; n=$((n + 1))
		done
	fi
}
start() {
	alive "$1" && return 0
	cmd=$(sed -n 's/^ExecStart=//p' "$ROOT/etc/systemd/system/$1" 2>/dev/null)
	[ -n "$cmd" ] || { echo "Failed to start $1: Unit $1 not found." >&2; return 5; }
	setsid sh -c "exec $cmd" </dev/null >/dev/null 2>&1 &
	echo $! >"$FAKE_UNITS/$1.pid"
}
case $1 in
start) start "$2" ;;
stop) stop "$2" ;;
restart) stop "$2"; start "$2" ;;
is-active)
	[ "$2" != --quiet ] || shift
	if alive "$2"; then echo active; else echo inactive; exit 3; fi
	;;
esac
exit 0
EOF
chmod 755 "$FAKE_BIN"/*

# ---------------------------------------------------------------- the release
# v1: the build's executable; v2: the same with bytes appended (a different
# file that still runs); bad: a SHA256SUMS that does not match its executable.
SRV=$LAB_TMP/srv
release() { # DIR EXE-SOURCE
	mkdir -p "$1"
	cp scripts/gateway/install.sh scripts/gateway/udm-proxies on_boot.d/10-proxy.sh.in "$1/"
	ln -s "$(realpath "$2")" "$1/mld-proxy-linux-x64"
	(cd "$1" && sha256sum -- * >SHA256SUMS)
}
release "$SRV/v1" "$DIST_EXE"
cp "$DIST_EXE" "$LAB_TMP/exe-v2"
printf 'v2' >>"$LAB_TMP/exe-v2"
release "$SRV/v2" "$LAB_TMP/exe-v2"
cp "$DIST_EXE" "$LAB_TMP/exe-bad"
printf 'tampered' >>"$LAB_TMP/exe-bad"
release "$SRV/bad" "$LAB_TMP/exe-bad"
cp "$SRV/v2/SHA256SUMS" "$SRV/bad/SHA256SUMS"
check "the v1 release lists the build's checksum" \
	grep -qF "$(grep ' mld-proxy-linux-x64$' dist/SHA256SUMS | cut -d' ' -f1)" "$SRV/v1/SHA256SUMS"

PORT=
for _ in 1 2 3 4 5; do
	p=$((20000 + RANDOM % 40000))
	setsid busybox httpd -f -p "127.0.0.1:$p" -h "$SRV" >"$LAB_TMP/httpd.log" 2>&1 &
	bg_track "$!"
	sleep 0.2
	if curl -fsS -o /dev/null "http://127.0.0.1:$p/v1/SHA256SUMS" 2>/dev/null; then PORT=$p && break; fi
done
[ -n "$PORT" ] || bail "busybox httpd did not start" "$(cat "$LAB_TMP/httpd.log")"
URL=http://127.0.0.1:$PORT

# ---------------------------------------------------------------- helpers
# A fake root as a UniFi gateway has it: /data, /run, /var/log, /etc.
new_root() { # NAME
	R=$LAB_TMP/$1/root
	mkdir -p "$R/data" "$R/run" "$R/var/log" "$R/etc/systemd/system"
	export FAKE_CALLS=$LAB_TMP/$1/calls.log FAKE_UNITS=$LAB_TMP/$1/units
	mkdir -p "$FAKE_UNITS"
	: >"$FAKE_CALLS"
	UNIT=$R/etc/systemd/system/udm-proxies-mld-proxy.service
	UNIT_LINK=$R/etc/systemd/system/multi-user.target.wants/udm-proxies-mld-proxy.service
	EXE=$R/data/udm-proxies/mld-proxy/mld-proxy
	CONF=$R/data/udm-proxies/mld-proxy.conf
	BOOT=$R/data/on_boot.d/10-mld-proxy.sh
	MANAGER=$R/data/udm-proxies/udm-proxies
	PIDF=$R/run/mld-proxy.pid
}

install_from() { # OUTFILE RELEASE ARGS...
	local out=$1 rel=$2
	shift 2
	run_sh "$out" UDM_PROXIES_URL="$URL/$rel" -- scripts/gateway/install.sh "$@"
}
# install_pipe OUTFILE RELEASE ARGS... : the one-liner, curl -fsSL .../install.sh | sh -s -- ARGS
install_pipe() {
	local out=$1 rel=$2
	shift 2
	# shellcheck disable=SC2086 # $SH is "busybox sh" or "dash"
	curl -fsSL "$URL/$rel/install.sh" |
		env PATH="$FAKE_BIN:$PATH" ROOT="$R" UDM_PROXIES_URL="$URL/$rel" $SH -s -- "$@" >"$out" 2>&1
}

# daemons: PIDs of processes running this root's executable.
daemons() {
	local f pid
	for f in /proc/[0-9]*/cmdline; do
		pid=${f#/proc/}
		pid=${pid%/cmdline}
		case "$(tr '\0' ' ' 2>/dev/null <"$f")" in "$EXE "*) echo "$pid" ;; esac
	done
}
one_daemon() { [ "$(daemons | wc -l)" -eq 1 ]; }
no_daemon() { [ -z "$(daemons)" ]; }
# The PID file names the one running daemon.
pid_file_is_daemon() { [ -s "$PIDF" ] && [ "$(cat "$PIDF")" = "$(daemons)" ]; }
respawn_loops() {
	local f n=0
	for f in /proc/[0-9]*/cmdline; do
		case "$(tr '\0' ' ' 2>/dev/null <"$f")" in "/bin/sh $BOOT --respawn"*) n=$((n + 1)) ;; esac
	done
	echo "$n"
}
# snapshot: every file under data and etc with its checksum (logs, pid files
# and sockets live elsewhere and change by themselves).
# The daemon unpacks its native module into a private .koffi-* directory beside
# itself for a moment at start; that is not ours to compare.
snapshot() {
	(cd "$R" && find data etc -type f -not -path '*/.koffi-*' -print0 | sort -z | xargs -0r sha256sum 2>&1) || true
}
all_paths() { (cd "$R" && find . | sort); }
same() { cmp -s "$1" "$2"; }
has() { grep -qF -- "$2" "$1"; }
filled_in() { [ -x "$1" ] && ! grep -q "@[A-Z_]*@" "$@"; }
called() { grep -qx -- "$1" "$FAKE_CALLS"; }
pid_is() { [ "$(cat "$PIDF" 2>/dev/null)" = "$1" ]; }
# new_daemon OLD [TEXT]: the PID file names a live daemon other than OLD, whose
# command line contains TEXT.
new_daemon() {
	local d
	d=$(cat "$PIDF" 2>/dev/null) && [ -n "$d" ] && [ "$d" != "$1" ] &&
		tr '\0' ' ' 2>/dev/null <"/proc/$d/cmdline" | grep -qF -- "${2:-$EXE}"
}
quick() { # SECONDS CMD... : CMD succeeds within SECONDS
	local limit=$1 t0 t1
	shift
	t0=$(date +%s%N)
	"$@" || return 1
	t1=$(date +%s%N)
	[ $(((t1 - t0) / 1000000)) -lt $((limit * 1000)) ] || {
		echo "took $(((t1 - t0) / 1000000)) ms"
		return 1
	}
}

# ---------------------------------------------------------------- the cases
suite() { # NAME SHELL MODE(systemd|plain)
	local name=$1 mode=$3 out pid foreign
	SH=$2
	out=$LAB_TMP/$name
	new_root "$name"
	if [ "$mode" = systemd ]; then
		mkdir -p "$R/run/systemd/system" "$R/lib/systemd/system" "$R/data/on_boot.d" \
			"$R/etc/systemd/system/multi-user.target.wants"
		echo "# udm-boot from unifios-utilities" >"$R/lib/systemd/system/udm-boot.service"
	fi
	all_paths >"$out/paths-before"

	# fresh install, the one-line way
	require "[$name] fresh install (curl ... | sh -s -- mld-proxy ...) succeeds" \
		install_pipe "$out/1.txt" v1 mld-proxy "$IF_UP" "$IF_DOWN"
	check "[$name] executable installed" same "$EXE" "$DIST_EXE"
	check "[$name] config holds the arguments" has "$CONF" "ARGS=\"$IF_UP $IF_DOWN\""
	check "[$name] on-boot script written, all placeholders filled" \
		filled_in "$BOOT" "$MANAGER"
	check "[$name] on-boot script passes --state" has "$BOOT" "--state $R/data/udm-proxies/mld-proxy/state.json"
	check "[$name] management script installed" test -x "$MANAGER"
	check "[$name] preflight asked uname and ubnt-device-info" \
		has_all "$FAKE_CALLS" "uname -m" "ubnt-device-info firmware"
	wait_for 5 "[$name] one daemon runs and the PID file names it" pid_file_is_daemon
	check "[$name] ... with one malloc arena (MALLOC_ARENA_MAX=1)" \
		sh -c "tr '\\0' '\\n' <'/proc/$(cat "$PIDF" 2>/dev/null)/environ' | grep -qx MALLOC_ARENA_MAX=1"
	wait_for 5 "[$name] the daemon logs to /var/log and waits for its interfaces" \
		has "$R/var/log/mld-proxy.log" "waiting for interface $IF_UP"
	if [ "$mode" = systemd ]; then
		check "[$name] a plain unit file, filled in" sh -c "test -f '$UNIT' -a ! -L '$UNIT' && ! grep -q '@[A-Z_]*@' '$UNIT'"
		check "[$name] ... that runs the on-boot script's run" has "$UNIT" "ExecStart=/bin/sh $BOOT run"
		check "[$name] ... waits for /data, restarts always, with no start-rate limit" \
			has_all "$UNIT" "RequiresMountsFor=$R/data" "Restart=always" "StartLimitIntervalSec=0" "WantedBy=multi-user.target"
		check "[$name] ... and waits for no network" not grep -qiE '^(After|Wants|Requires|BindsTo)=.*network' "$UNIT"
		check "[$name] enabled: the link in multi-user.target.wants" test "$(readlink "$UNIT_LINK")" = ../udm-proxies-mld-proxy.service
		check "[$name] systemd re-read its units, then started the unit" \
			has_all "$FAKE_CALLS" "systemctl daemon-reload" "systemctl start udm-proxies-mld-proxy.service"
	else
		check "[$name] started in a respawn loop" test "$(respawn_loops)" -eq 1
		check "[$name] no systemd: says what starts it at boot" has "$out/1.txt" "systemd is not running here"
		check "[$name] no systemd: no unit" not test -e "$UNIT"
	fi
	pid=$(cat "$PIDF" 2>/dev/null || true)

	# second run: nothing changes
	touch "$out/marker"
	sleep 0.05
	check "[$name] second run succeeds" install_from "$out/2.txt" v1 mld-proxy "$IF_UP" "$IF_DOWN"
	check "[$name] second run writes no file" test -z "$(find "$R/data" "$R/etc" -newer "$out/marker" -type f)"
	check "[$name] second run: same daemon, still one" pid_is "$pid"
	check "[$name] second run: one daemon" one_daemon

	# status and doctor
	check "[$name] udm-proxies status" run_sh "$out/status.txt" -- "$MANAGER" status mld-proxy
	check "[$name] status shows the PID and the daemon's own status" \
		has_all "$out/status.txt" "running as PID $pid" "upstream:   $IF_UP"
	check "[$name] udm-proxies metrics" run_sh "$out/metrics.txt" -- "$MANAGER" metrics mld-proxy
	check "[$name] metrics prints the daemon's exposition" has_all "$out/metrics.txt" "# udm-proxies: mld-proxy" "mld_proxy_build_info{" "process_open_fds "
	check "[$name] udm-proxies doctor" run_sh "$out/doctor.txt" -- "$MANAGER" doctor
	check "[$name] doctor names model, firmware, kernel, space, the proxy and its log" \
		has_all "$out/doctor.txt" "UniFi Dream Machine Pro" "firmware: 4.0.6" "kernel:" "== free space" \
		"== interfaces" "== mld-proxy" "running as PID" "waiting for interface"

	# the units gone (a migration that dropped them): doctor says so and names the
	# repair; udm-boot running the on-boot script at boot, or repair, restores them
	if [ "$mode" = systemd ]; then
		check "[$name] doctor: the unit in place" has "$out/doctor.txt" "unit in place: $UNIT"
		rm -f "$UNIT" "$UNIT_LINK"
		check "[$name] doctor with the unit gone" run_sh "$out/3.txt" -- "$MANAGER" doctor
		check "[$name] ... says it is missing and names the one command that restores it" \
			has_all "$out/3.txt" "MISSING: $UNIT" "NOT ENABLED" "$MANAGER repair"
		check "[$name] the on-boot script, as udm-boot runs it at boot" run_sh "$out/3b.txt" -- "$BOOT"
		check "[$name] ... put the unit back, enabled" test -f "$UNIT" -a -L "$UNIT_LINK"
		check "[$name] ... and left the running daemon alone" pid_is "$pid"
		rm -f "$UNIT" "$UNIT_LINK"
		check "[$name] udm-proxies repair" run_sh "$out/3c.txt" -- "$MANAGER" repair
		check "[$name] ... put the unit back, enabled" test -f "$UNIT" -a -L "$UNIT_LINK"
		check "[$name] ... and left the running daemon alone" pid_is "$pid"
		check "[$name] the old --with-boot-service is accepted and not needed" \
			install_from "$out/3d.txt" v1 --with-boot-service mld-proxy
		check "[$name] ... says so" has "$out/3d.txt" "no longer needed"
		check "[$name] ... and still one daemon, the same" pid_is "$pid"
	fi

	# upgrade keeps the edited config
	sed -i 's/^FLAGS=""/FLAGS="--log-level debug"/' "$CONF"
	cp "$CONF" "$out/conf-edited"
	if [ "$mode" = plain ]; then
		check "[$name] upgrade by the installer succeeds" install_from "$out/4.txt" v2 mld-proxy other0 other1
		check "[$name] upgrade says the given arguments differ from the config" has "$out/4.txt" "differ from the config"
	else
		check "[$name] udm-proxies upgrade succeeds" run_sh "$out/4.txt" UDM_PROXIES_URL="$URL/v2" -- "$MANAGER" upgrade
	fi
	check "[$name] upgrade installed the new executable" same "$EXE" "$LAB_TMP/exe-v2"
	check "[$name] upgrade kept the previous one for rollback" same "$EXE.prev" "$DIST_EXE"
	check "[$name] upgrade kept the edited config" same "$CONF" "$out/conf-edited"
	wait_for 5 "[$name] upgrade restarted the daemon with the edited config" \
		new_daemon "$pid" "--log-level debug"
	wait_for 5 "[$name] upgrade: one daemon" one_daemon
	pid=$(cat "$PIDF" 2>/dev/null || true)

	# rollback swaps the two executables and restarts
	check "[$name] udm-proxies rollback" run_sh "$out/4r.txt" -- "$MANAGER" rollback mld-proxy
	check "[$name] rollback put the previous executable back" same "$EXE" "$DIST_EXE"
	check "[$name] ... and kept the newer as .prev" same "$EXE.prev" "$LAB_TMP/exe-v2"
	wait_for 5 "[$name] rollback restarted the daemon" new_daemon "$pid"
	wait_for 5 "[$name] rollback: one daemon" one_daemon
	pid=$(cat "$PIDF" 2>/dev/null || true)

	# checksum mismatch changes nothing
	snapshot >"$out/snap-before"
	check "[$name] checksum mismatch fails" not install_from "$out/5.txt" bad mld-proxy
	check "[$name] checksum mismatch is named" has "$out/5.txt" "checksum mismatch for mld-proxy-linux-x64"
	snapshot >"$out/snap-after"
	check "[$name] checksum mismatch changed no file" same "$out/snap-before" "$out/snap-after"
	check "[$name] checksum mismatch left the daemon alone" pid_file_is_daemon
	check "[$name] ... the same daemon" test "$(daemons)" = "$pid"

	# unsupported firmware and machine are refused, changing nothing
	check "[$name] firmware 2.x refused" not run_sh "$out/6.txt" UDM_PROXIES_URL="$URL/v1" FAKE_FIRMWARE=2.5.17 -- scripts/gateway/install.sh mld-proxy
	check "[$name] ... with one clear line" has "$out/6.txt" "firmware 2.5.17 is too old"
	check "[$name] mips refused" not run_sh "$out/7.txt" UDM_PROXIES_URL="$URL/v1" FAKE_ARCH=mips -- scripts/gateway/install.sh mld-proxy
	snapshot >"$out/snap-after2"
	check "[$name] refusals changed no file" same "$out/snap-before" "$out/snap-after2"
	check "[$name] refusals left the daemon alone" test "$(daemons)" = "$pid"
	check "[$name] firmware 10.x accepted (numeric compare, no allowlist)" \
		run_sh "$out/6b.txt" UDM_PROXIES_URL="$URL/v2" FAKE_FIRMWARE=10.0.1 -- scripts/gateway/install.sh mld-proxy
	wait_for 5 "[$name] ... and it upgraded and restarted the daemon" new_daemon "$pid"

	# the on-boot script, run twice, returns at once and leaves one daemon
	check "[$name] on-boot script returns within 5 s" quick 5 run_sh "$out/8.txt" -- "$BOOT"
	check "[$name] ... and again" quick 5 run_sh "$out/9.txt" -- "$BOOT"
	wait_for 5 "[$name] on-boot twice: one daemon, named by the PID file" pid_file_is_daemon
	check "[$name] on-boot twice: one daemon" one_daemon
	if [ "$mode" = plain ]; then check "[$name] on-boot twice: one respawn loop" test "$(respawn_loops)" -eq 1; fi

	# a crashed daemon is started again (the respawn loop or systemd's Restart=)
	if [ "$mode" = plain ]; then
		pid=$(daemons)
		kill -KILL "$pid"
		wait_for 5 "[$name] the respawn loop restarts a killed daemon" \
			new_daemon "$pid"
		check "[$name] ... and logs why" has "$R/var/log/mld-proxy.log" "respawn: mld-proxy exited with status 137"
	fi

	# a PID file naming a stranger does not kill it
	check "[$name] udm-proxies stop" run_sh "$out/10.txt" -- "$MANAGER" stop mld-proxy
	wait_for 5 "[$name] stop: no daemon" no_daemon
	setsid sleep 300 </dev/null >/dev/null 2>&1 &
	foreign=$!
	bg_track "$foreign"
	echo "$foreign" >"$PIDF"
	check "[$name] on-boot with a foreign PID file" quick 5 run_sh "$out/11.txt" -- "$BOOT"
	check "[$name] the foreign process lives" test -d "/proc/$foreign"
	check "[$name] ... and was named, not killed" has "$out/11.txt" "names PID $foreign, which is not mld-proxy"
	wait_for 5 "[$name] our daemon runs and owns the PID file" pid_file_is_daemon
	bg_stop "$foreign"

	# start / restart
	pid=$(daemons)
	check "[$name] start when running does nothing" run_sh "$out/12.txt" -- "$MANAGER" start mld-proxy
	check "[$name] ... the same daemon" test "$(daemons)" = "$pid"
	check "[$name] restart" run_sh "$out/13.txt" -- "$MANAGER" restart mld-proxy
	wait_for 5 "[$name] restart: a new daemon, one" new_daemon "$pid"
	wait_for 5 "[$name] restart: one daemon" one_daemon

	# uninstall: --purge leaves no trace; without it only the config stays
	touch "$FAKE_FW/chain-UDM_PROXIES_MLD_PROXY" "$FAKE_FW/jump-UDM_PROXIES_MLD_PROXY" # as after a kill -9
	if [ "$mode" = systemd ]; then
		check "[$name] uninstall --purge" run_sh "$out/14.txt" -- "$MANAGER" uninstall mld-proxy --purge
		all_paths >"$out/paths-after"
		check "[$name] uninstall --purge leaves no trace (unit and link too)" diff "$out/paths-before" "$out/paths-after"
	else
		check "[$name] uninstall" run_sh "$out/14.txt" -- "$MANAGER" uninstall mld-proxy
		all_paths >"$out/paths-after"
		check "[$name] uninstall leaves only the config" \
			diff <(cat "$out/paths-before" - <<<$'./data/udm-proxies\n./data/udm-proxies/mld-proxy.conf' | sort) "$out/paths-after"
	fi
	check "[$name] uninstall removes the firewall chain a killed daemon left, and its jump" \
		bash -c "[ -z \"\$(ls '$FAKE_FW')\" ] && grep -q 'iptables-legacy -w 5 -D INPUT -m comment --comment udm-proxies:mld-proxy -j UDM_PROXIES_MLD_PROXY' '$FAKE_CALLS'"
	check "[$name] ... and says so" has "$out/14.txt" "removed the firewall chain UDM_PROXIES_MLD_PROXY that mld-proxy left (iptables-legacy)"
	wait_for 5 "[$name] uninstall: no daemon" no_daemon
	check "[$name] uninstall: no respawn loop" test "$(respawn_loops)" -eq 0
}

mkdir -p "$LAB_TMP/busybox" "$LAB_TMP/dash"
suite busybox "busybox sh" systemd
suite dash dash plain
check "the installer wrote nothing to the real /data or /run" \
	not ls -d /data/udm-proxies /run/mld-proxy.respawn.pid /etc/systemd/system/udm-proxies-mld-proxy.service

finish
