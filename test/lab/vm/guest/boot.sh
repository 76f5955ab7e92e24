#!/bin/bash
# test/lab/vm/guest/boot.sh - runs in the guest at every boot (udmvm.service, after
# multi-user): mounts the release disk, runs this boot's script (udmvm.run=SCRIPT:ARG
# on the kernel command line, e.g. boot-proof.sh:install; more arguments, one a line,
# in /mnt/out/SCRIPT-ARG.args) with its output in /mnt/out/SCRIPT-ARG.log, says
# "UDMVM-END NAME rc=N" on the console and powers off, or reboots when the script
# left "reboot" in /run/udmvm-next (the host's qemu runs with -no-reboot, so either
# ends this boot; the host starts the next one).
#
# The scripts run from a copy in /run: bash reads a script as it runs it, and an
# edit on the host during a run must not change what the guest does.
main() {
	local run name script arg rc=0 args=()
	run=$(sed -n 's/.*udmvm\.run=\([^ ]*\).*/\1/p' /proc/cmdline)
	name=${run//:/-}
	script=${run%%:*}
	arg=
	case $run in *:*) arg=${run#*:} ;; esac
	mount -o ro LABEL=udmvm-release /mnt/release
	cd /mnt/repo || exit 1
	rm -rf /run/udmvm-guest
	cp -r test/lab/vm/guest /run/udmvm-guest
	if [ -z "$script" ] || [ ! -f "/run/udmvm-guest/$script" ]; then
		echo "boot.sh: no script '$script' (udmvm.run=$run)" >"/mnt/out/$name.log"
		rc=2
	else
		[ -z "$arg" ] || args=("$arg")
		if [ -f "/mnt/out/$name.args" ]; then mapfile -t -O "${#args[@]}" args <"/mnt/out/$name.args"; fi
		UDMVM_RELEASE=/mnt/release bash "/run/udmvm-guest/$script" "${args[@]}" >"/mnt/out/$name.log" 2>&1 || rc=$?
	fi
	echo "UDMVM-END $name rc=$rc" >/dev/console
	sync
	if [ "$(cat /run/udmvm-next 2>/dev/null)" = reboot ]; then systemctl reboot; else systemctl poweroff; fi
}

main "$@"
exit
