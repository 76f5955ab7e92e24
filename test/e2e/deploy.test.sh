#!/usr/bin/env bash
# shellcheck disable=SC2317 # helpers are invoked through check/wait_for
# test/e2e/deploy.test.sh - `make deploy` against a real OpenSSH server on
# 127.0.0.1 (its own host key, our own client key), installing into a fake root
# on "the gateway" (DEPLOY_ROOT): the executable arrives, the on-boot script is
# written, the daemon runs after ssh has gone; make status and make logs work
# through the same ssh, and an uninstall over ssh leaves nothing behind.
# The build is not redone here (make -o build): `make test` builds first.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=test/e2e/lib.sh
. test/e2e/lib.sh
need_root
need_cmd ssh ssh-keygen make tar sha256sum
SSHD=/usr/sbin/sshd
[ -x "$SSHD" ] || bail "$SSHD is missing; install it: apt-get install openssh-server"
DIST_EXE=dist/mld-proxy-linux-x64
[ -x "$DIST_EXE" ] || bail "$DIST_EXE is missing; run make first"
IF_UP=udmtnowan0 IF_DOWN=udmtnolan0

# Processes started on "the gateway" carry the fake root in their command line:
# sweep_tmp_processes (test/lab/lib.sh) kills them on the way out.
MADE_PRIVSEP=0
on_exit() {
	sweep_tmp_processes
	if [ "$MADE_PRIVSEP" = 1 ]; then rmdir /run/sshd 2>/dev/null || true; fi
}
at_exit on_exit

# ---------------------------------------------------------------- sshd
K=$LAB_TMP/ssh
mkdir -m 700 "$K"
ssh-keygen -q -t ed25519 -N '' -C udm-e2e-host -f "$K/host_key"
ssh-keygen -q -t ed25519 -N '' -C udm-e2e-client -f "$K/client_key"
cp "$K/client_key.pub" "$K/authorized_keys"
# sshd refuses to start without its privilege separation directory.
if [ ! -d /run/sshd ]; then
	mkdir -m 755 /run/sshd
	MADE_PRIVSEP=1
fi

PORT=
for _ in 1 2 3 4 5; do
	p=$((20000 + RANDOM % 40000))
	cat >"$K/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $p
HostKey $K/host_key
PidFile $K/sshd.pid
AuthorizedKeysFile $K/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
X11Forwarding no
PrintMotd no
EOF
	setsid "$SSHD" -D -e -f "$K/sshd_config" >"$K/sshd.log" 2>&1 </dev/null &
	sshd=$!
	bg_track "$sshd"
	printf '[127.0.0.1]:%s %s\n' "$p" "$(cut -d' ' -f1,2 "$K/host_key.pub")" >"$K/known_hosts"
	SSH_OPTS="-i $K/client_key -o Port=$p -o UserKnownHostsFile=$K/known_hosts -o StrictHostKeyChecking=yes -o BatchMode=yes -o LogLevel=ERROR"
	for _ in $(seq 1 25); do
		# shellcheck disable=SC2086 # options, one per word
		if ssh $SSH_OPTS root@127.0.0.1 true 2>/dev/null; then
			PORT=$p
			break 2
		fi
		sleep 0.2
	done
	bg_stop "$sshd"
done
[ -n "$PORT" ] || bail "sshd did not start" "$(cat "$K/sshd.log")"
ok "sshd on 127.0.0.1:$PORT with its own host key accepts our key"

# ---------------------------------------------------------------- deploy
R=$LAB_TMP/root
mkdir -p "$R/data" "$R/run" "$R/var/log" "$R/etc/systemd/system"
EXE=$R/data/udm-proxies/mld-proxy/mld-proxy
PIDF=$R/run/mld-proxy.pid
MAKE_VARS=(HOST=root@127.0.0.1 "SSH_OPTS=$SSH_OPTS" DEPLOY_ARCH=linux-x64 "DEPLOY_ROOT=$R" PROXY=mld-proxy)
deploy_dirs() { find /tmp -maxdepth 1 -name 'udm-proxies-deploy.*' | sort; }
deploy_dirs >"$LAB_TMP/deploy-dirs-before"

make_to() { # OUTFILE MAKE-ARGS...
	local out=$1
	shift
	make -s "$@" >"$out" 2>&1
}
t0=$(date +%s)
require "make deploy" make_to "$LAB_TMP/deploy1.txt" -o build deploy "${MAKE_VARS[@]}" "ARGS=$IF_UP $IF_DOWN"
check "make deploy again" make_to "$LAB_TMP/deploy2.txt" -o build deploy "${MAKE_VARS[@]}" "ARGS=$IF_UP $IF_DOWN"
check "make deploy took less than 30 s (twice)" test $(($(date +%s) - t0)) -lt 30
check "the checksums were verified on the host" grep -q "checksums verified" "$LAB_TMP/deploy1.txt"
check "a second deploy changes nothing, the daemon runs on" \
	sh -c "grep -q 'nothing changed' '$LAB_TMP/deploy2.txt' && grep -q 'running (PID' '$LAB_TMP/deploy2.txt'"
check "the executable arrived, byte for byte" cmp "$EXE" "$DIST_EXE"
check "the config holds the arguments" grep -qF "ARGS=\"$IF_UP $IF_DOWN\"" "$R/data/udm-proxies/mld-proxy.conf"
check "the on-boot script exists" test -x "$R/data/on_boot.d/10-mld-proxy.sh"
check "the management script exists" test -x "$R/data/udm-proxies/udm-proxies"

daemon_runs() {
	local d
	d=$(cat "$PIDF" 2>/dev/null) && [ -n "$d" ] &&
		tr '\0' ' ' 2>/dev/null <"/proc/$d/cmdline" | grep -qF -- "$EXE --pid-file $PIDF"
}
wait_for 5 "the daemon runs after ssh has gone" daemon_runs
wait_for 5 "the daemon logs to /var/log" grep -qF "waiting for interface $IF_UP" "$R/var/log/mld-proxy.log"
deploy_dirs >"$LAB_TMP/deploy-dirs-after"
check "the remote temporary directory was removed" cmp "$LAB_TMP/deploy-dirs-before" "$LAB_TMP/deploy-dirs-after"

check "make status" make_to "$LAB_TMP/status.txt" status "${MAKE_VARS[@]}"
check "make status shows the daemon" grep -q "running as PID $(cat "$PIDF")" "$LAB_TMP/status.txt"
timeout 5 make -s logs "${MAKE_VARS[@]}" >"$LAB_TMP/logs.txt" 2>&1 </dev/null || true
check "make logs shows the log" grep -qF "waiting for interface $IF_UP" "$LAB_TMP/logs.txt"
check "make deploy without HOST fails" not make_to "$LAB_TMP/nohost.txt" -o build deploy
check "... saying what to do" grep -q "ERROR: no HOST; run: make deploy HOST=udm" "$LAB_TMP/nohost.txt"

# shellcheck disable=SC2086 # options, one per word
check "uninstall --purge over ssh" ssh $SSH_OPTS root@127.0.0.1 "$R/data/udm-proxies/udm-proxies" uninstall --purge
wait_for 5 "the daemon is gone" not daemon_runs
check "nothing is left in the fake root" test -z "$(find "$R" -mindepth 1 -not -path "$R/data" -not -path "$R/run" \
	-not -path "$R/var" -not -path "$R/var/log" -not -path "$R/etc" -not -path "$R/etc/systemd" -not -path "$R/etc/systemd/system")"

finish
