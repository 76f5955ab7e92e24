#!/usr/bin/env bash
# shellcheck disable=SC2317 # helpers are invoked through check/wait_for
# test/lab/vm/guest/boot-proof.sh PHASE - inside the arm64 guest, one boot of the
# proof that an installed proxy comes back on its own. The host boots the guest once
# per phase, in this order, on the same disks (/data is a disk of its own):
#
#   install   the one-line installer from a release served over HTTP in the guest
#             (no udm-boot): udp-tunnel runs under systemd; a tunnel is added (state)
#   reboot    after `reboot`: running again within 60 s of boot, the tunnel restored
#   update    after a "firmware update" (the host put a pristine root in place,
#             keeping /etc/systemd): running again within 60 s of boot, the tunnel
#             restored from the state file; kill -9: back within 10 s; mld-proxy
#             installed beside it; UniFi's firewall template applied: udp-tunnel
#             opens its port, puts it back after a provisioning, and its uninstall
#             leaves the template byte for byte; uninstalling one leaves the other
#             running. Then
#             a stand-in for udm-boot (runs /data/on_boot.d/*.sh at boot)
#   udm-boot  with udm-boot: one daemon, never two; then its unit removed, as a
#             migration that dropped it would
#   repair    udm-boot's run of the on-boot script put the unit back; doctor names
#             what is missing and `udm-proxies repair` restores it; uninstalling
#             all leaves nothing (units, on-boot scripts, /data, /run, logs)
set -euo pipefail
PHASE=${1:?usage: boot-proof.sh install|reboot|update|udm-boot|repair}
cd /mnt/repo
. test/e2e/lib.sh
need_root
need_cmd systemctl busybox curl ip
REL=${UDMVM_RELEASE:-/mnt/release}
MANAGER=/data/udm-proxies/udm-proxies
UNITS=/etc/systemd/system
PORT=8080
# The guest's own marker in /usr, which a firmware update replaces.
MARKER=/usr/local/share/udmvm-before-update

unit() { printf 'udm-proxies-%s.service' "$1"; }
exe() { printf '/data/udm-proxies/%s/%s' "$1" "$1"; }
prop() { systemctl show -p "$2" --value "$(unit "$1")"; }
active() { [ "$(systemctl is-active "$(unit "$1")")" = active ]; }
# daemons PROXY: PIDs of processes running the installed executable.
daemons() {
	local f pid
	for f in /proc/[0-9]*/cmdline; do
		pid=${f#/proc/}
		pid=${pid%/cmdline}
		case "$(tr '\0' ' ' 2>/dev/null <"$f")" in "$(exe "$1") "*) echo "$pid" ;; esac
	done
}
one_daemon() { [ "$(daemons "$1" | wc -l)" -eq 1 ]; }
# main_is_daemon PROXY: systemd's main PID is the one daemon, and the PID file names it.
main_is_daemon() {
	local main
	main=$(prop "$1" MainPID)
	[ "$main" != 0 ] && [ "$(daemons "$1")" = "$main" ] && [ "$(cat "/run/$1.pid" 2>/dev/null)" = "$main" ]
}
# started_within PROXY SECONDS: the unit became active that soon after the kernel
# started (and says when, with the boot's own figures).
started_within() {
	local us
	us=$(prop "$1" ActiveEnterTimestampMonotonic)
	echo "# $1 active $(awk -v u="$us" 'BEGIN { printf "%.1f", u / 1e6 }') s after the kernel started; $(systemd-analyze 2>/dev/null | head -n 1)"
	check "... started within $2 s of boot" test "$us" -gt 0 -a "$us" -lt $(($2 * 1000000))
}
# listening_since PROXY EPOCH: seconds from EPOCH (date +%s.%N) to the last time the
# daemon logged that it listens, if that is after EPOCH.
listening_since() {
	local line
	line=$(grep -a ' listening: ' "/var/log/$1.log" | tail -n 1)
	[ -n "$line" ] || return 1
	awk -v t0="$2" -v t1="$(date -d "${line%% *}" +%s.%N)" 'BEGIN { d = t1 - t0; if (d < 0) exit 1; printf "%.1f\n", d }'
}
plain_unit() { [ -f "$UNITS/$(unit "$1")" ] && [ ! -L "$UNITS/$(unit "$1")" ]; }
enabled() { [ "$(systemctl is-enabled "$(unit "$1")")" = enabled ]; }
unit_in_place() { plain_unit "$1" && enabled "$1"; }
no_unit() { ! ls "$UNITS/$(unit "$1")" "$UNITS"/*/"$(unit "$1")" 2>/dev/null; }
tunnel_listed() { "$(exe udp-tunnel)" ctl -s 127.0.0.1 -o list | grep -q '^vmt0 '; }
ut_answers() { "$(exe udp-tunnel)" status --control-socket /run/udp-tunnel.sock >/dev/null; }

serve_release() {
	setsid busybox httpd -f -p "127.0.0.1:$PORT" -h "$REL" >"$LAB_TMP/httpd.log" 2>&1 </dev/null &
	bg_track "$!"
	require_wait 10 "the release is served over HTTP in the guest" curl -fsS -o /dev/null "http://127.0.0.1:$PORT/SHA256SUMS"
}
# install PROXY ARGS...: the README's one line, from the guest's own server.
install() {
	curl -fsSL "http://127.0.0.1:$PORT/install.sh" |
		UDM_PROXIES_URL="http://127.0.0.1:$PORT" sh -s -- "$@" >"$LAB_TMP/install-$1.txt" 2>&1 ||
		{ cat "$LAB_TMP/install-$1.txt"; return 1; }
}
# nothing_left: every file, unit and process the installs made is gone.
nothing_left() {
	local left
	left=$(ls -d "$UNITS"/udm-proxies-* "$UNITS"/*/udm-proxies-* /data/on_boot.d/10-* /data/udm-proxies \
		/run/mld-proxy.* /run/udp-tunnel.* /var/log/mld-proxy.log* /var/log/udp-tunnel.log* 2>/dev/null || true)
	left+=$(daemons mld-proxy; daemons udp-tunnel)
	for p in mld-proxy udp-tunnel; do
		[ "$(prop "$p" LoadState)" = not-found ] || left+=" $(unit "$p") is $(prop "$p" LoadState)"
	done
	echo "$left"
	[ -z "$left" ]
}
next_boot() { echo reboot >/run/udmvm-next; }

# UniFi's filter table on the guest itself (test/lab/unifi-firewall.sh's template, UDM-Pro
# names), rebuilt as UniFi's controller does, with its state file at the real path.
UNIFI_STATE=/data/udapi-config/ubios-udapi-server/ubios-udapi-server.state
unifi_template_up() {
	local fam
	# shellcheck source=test/lab/unifi-firewall.sh
	. test/lab/unifi-firewall.sh
	for fam in 4 6; do unifi_fw_template pre-zone "$fam" eth8 wgsts1000 br0 br20 >"$LAB_TMP/root.fw$fam"; done
	# The template as iptables-legacy-save prints it, from a scratch namespace.
	ns_add tmpl
	nsx tmpl iptables-legacy-restore <"$LAB_TMP/root.fw4"
	nsx tmpl ip6tables-legacy-restore <"$LAB_TMP/root.fw6"
	unifi_fw_save tmpl 4 >"$LAB_TMP/root.save4"
	unifi_fw_save tmpl 6 >"$LAB_TMP/root.save6"
	unifi_provision_root
}
unifi_provision_root() {
	iptables-legacy-restore -w 5 <"$LAB_TMP/root.fw4"
	ip6tables-legacy-restore -w 5 <"$LAB_TMP/root.fw6"
	mkdir -p "${UNIFI_STATE%/*}"
	touch "$UNIFI_STATE"
}
ut_rule_open() { iptables-legacy -S UDM_PROXIES_UDP_TUNNEL 2>/dev/null | grep -q -- '-s 192.0.2.99/32 -p udp -m udp --dport 5000'; }
root_table_is_template() { # FAMILY
	local save=iptables-legacy-save
	[ "$1" = 4 ] || save=ip6tables-legacy-save
	diff "$LAB_TMP/root.save$1" <("$save" -t filter | grep -v '^#' | sed 's/ \[[0-9]*:[0-9]*\]$/ [0:0]/')
}

case $PHASE in
install)
	check "no udm-boot in this guest" not systemctl cat udm-boot.service
	serve_release
	require "install udp-tunnel with the one-line installer" install udp-tunnel -dp 5000 -cp 5001
	wait_for 30 "udp-tunnel runs under systemd" active udp-tunnel
	check "its unit is a plain file in $UNITS, enabled" unit_in_place udp-tunnel
	wait_for 30 "systemd's main PID is the one daemon, named by the PID file" main_is_daemon udp-tunnel
	check "... with one malloc arena (MALLOC_ARENA_MAX=1)" \
		grep -qxz MALLOC_ARENA_MAX=1 "/proc/$(prop udp-tunnel MainPID)/environ"
	wait_for 30 "udp-tunnel answers on its status socket" ut_answers
	check "add a tunnel (saved in the state file)" "$(exe udp-tunnel)" ctl -s 127.0.0.1 -o add -n vmt0 -t 10.9.0.1 -r 192.0.2.99
	check "the tunnel's device is up" ip link show vmt0
	check "the state file holds it" grep -q vmt0 /data/udm-proxies/udp-tunnel/state.json
	mkdir -p "${MARKER%/*}" && : >"$MARKER"
	next_boot
	;;
reboot)
	wait_for 60 "after reboot: udp-tunnel runs under systemd" active udp-tunnel
	started_within udp-tunnel 60
	systemd-analyze blame 2>/dev/null | head -n 6 | sed 's/^ */# slowest at boot: /' || true
	wait_for 30 "... one daemon, systemd's main PID" main_is_daemon udp-tunnel
	wait_for 30 "... the tunnel restored from the state file" tunnel_listed
	check "... and its device" ip link show vmt0
	next_boot
	;;
update)
	check "the firmware update replaced the root (our marker in /usr is gone)" not test -e "$MARKER"
	check "... and kept /etc/systemd (the unit is there)" plain_unit udp-tunnel
	wait_for 60 "after the update: udp-tunnel runs under systemd" active udp-tunnel
	started_within udp-tunnel 60
	wait_for 30 "... one daemon, systemd's main PID" main_is_daemon udp-tunnel
	wait_for 30 "... the tunnel restored from the state file" tunnel_listed
	check "... and its device" ip link show vmt0

	old=$(prop udp-tunnel MainPID)
	t_kill=$(date +%s.%N)
	up_kill=$(cut -d' ' -f1 /proc/uptime) # the monotonic clock systemd stamps with (no suspend here)
	kill -KILL "$old"
	# Polled lightly (a grep): the guest's two emulated CPUs are what restarts it.
	wait_for 40 "kill -9: systemd started it again and it listens" listening_since udp-tunnel "$t_kill"
	started=$(awk -v t0="$up_kill" -v us="$(prop udp-tunnel ExecMainStartTimestampMonotonic)" 'BEGIN { printf "%.1f", us / 1e6 - t0 }')
	back=$(listening_since udp-tunnel "$t_kill" || echo never)
	echo "# udp-tunnel started again $started s after kill -9 (RestartSec), listening after $back s (emulated CPU)"
	check "... started again within 10 s" awk -v b="$started" 'BEGIN { exit !(b + 0 > 0 && b + 0 < 10) }'
	check "... a new daemon, systemd's main PID" not test "$(prop udp-tunnel MainPID)" = "$old"
	wait_for 10 "... one daemon, named by the PID file" main_is_daemon udp-tunnel
	check "... with the tunnel" tunnel_listed

	serve_release
	require "install mld-proxy beside it (its interfaces do not exist: it waits)" install mld-proxy eth9 br0
	wait_for 30 "mld-proxy runs under systemd" main_is_daemon mld-proxy
	check "udp-tunnel still runs, the same daemon" main_is_daemon udp-tunnel
	mld=$(prop mld-proxy MainPID)

	# UniFi's firewall on this guest (issue 20): the installed udp-tunnel (firewall auto,
	# UniFi's own state file) opens its data port, puts it back after a provisioning, and
	# its uninstall leaves UniFi's table byte for byte.
	unifi_template_up
	wait_for 15 "UniFi's chains appeared: the installed udp-tunnel opened its data port to its remote" ut_rule_open
	unifi_provision_root
	gone=present
	ut_rule_open || gone=gone
	wait_for 10 "a provisioning rebuilt the table (the rule was $gone just after); it was put back (UniFi's state file at its real path)" ut_rule_open
	check "uninstall udp-tunnel" "$MANAGER" uninstall udp-tunnel --purge
	for fam in 4 6; do
		check "... UniFi's table is its template again, byte for byte (IPv$fam)" root_table_is_template "$fam"
	done
	check "... no chain or jump of ours left" not sh -c "{ iptables-legacy-save; ip6tables-legacy-save; } | grep UDM_PROXIES"
	check "... its unit is gone" no_unit udp-tunnel
	check "... its daemon too" test -z "$(daemons udp-tunnel)"
	check "... and its tunnel" not ip link show vmt0
	check "... mld-proxy runs on, the same daemon" test "$(prop mld-proxy MainPID)" = "$mld"
	check "... one daemon, systemd's main PID" main_is_daemon mld-proxy

	# udm-boot as unifios-utilities installs it: a unit in /lib (which an update
	# replaces) that runs the /data/on_boot.d scripts at boot, after the network. On the
	# gateway /data is there by then; here it is mounted nofail (late), so say so.
	cat >/lib/systemd/system/udm-boot.service <<'EOF'
[Unit]
Description=Run On Startup (stand-in for unifios-utilities' udm-boot)
Wants=network-online.target
After=network-online.target
RequiresMountsFor=/data

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'mkdir -p /data/on_boot.d; for f in /data/on_boot.d/*.sh; do [ -x "$$f" ] || continue; echo "udm-boot: running $$f"; "$$f"; done'

[Install]
WantedBy=multi-user.target
EOF
	check "udm-boot stand-in enabled" systemctl enable udm-boot.service
	next_boot
	;;
udm-boot)
	wait_for 60 "udm-boot ran the on-boot scripts" sh -c "systemctl show -p ActiveState --value udm-boot | grep -qx active"
	journalctl -b -u udm-boot -o cat | sed 's/^/# udm-boot said: /' || true
	check "... including ours" sh -c "journalctl -b -u udm-boot | grep -q 'running /data/on_boot.d/10-mld-proxy.sh'"
	wait_for 30 "mld-proxy runs: one daemon, systemd's main PID" main_is_daemon mld-proxy
	check "... started once this boot (no restarts)" test "$(prop mld-proxy NRestarts)" = 0
	started_within mld-proxy 60
	sleep 3
	check "... still one daemon" one_daemon mld-proxy
	# A migration that dropped the units (and nothing in /data).
	rm -f "$UNITS/$(unit mld-proxy)" "$UNITS/multi-user.target.wants/$(unit mld-proxy)"
	next_boot
	;;
repair)
	wait_for 60 "udm-boot ran the on-boot scripts" sh -c "systemctl show -p ActiveState --value udm-boot | grep -qx active"
	check "udm-boot's run of the on-boot script put the unit back" plain_unit mld-proxy
	check "... enabled" enabled mld-proxy
	wait_for 30 "... and mld-proxy runs: one daemon, systemd's main PID" main_is_daemon mld-proxy
	check "doctor: all in place" sh -c "'$MANAGER' doctor | grep -q 'unit in place: $UNITS/$(unit mld-proxy)'"
	rm -f "$UNITS/$(unit mld-proxy)" "$UNITS/multi-user.target.wants/$(unit mld-proxy)"
	systemctl daemon-reload
	"$MANAGER" doctor >"$LAB_TMP/doctor.txt" 2>&1 || true
	check "doctor with the unit gone names it and the command that restores it" \
		sh -c "grep -q 'MISSING: $UNITS/$(unit mld-proxy)' '$LAB_TMP/doctor.txt' && grep -q '$MANAGER repair' '$LAB_TMP/doctor.txt'"
	check "udm-proxies repair" "$MANAGER" repair
	check "... put the unit back, enabled" unit_in_place mld-proxy
	wait_for 30 "... mld-proxy runs, one daemon" main_is_daemon mld-proxy
	check "uninstall all" "$MANAGER" uninstall --purge
	check "nothing left: units, on-boot scripts, /data, /run, logs, processes" nothing_left
	;;
*) bail "unknown phase $PHASE" ;;
esac
finish
