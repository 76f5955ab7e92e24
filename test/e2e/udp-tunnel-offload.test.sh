#!/usr/bin/env bash
# shellcheck disable=SC2317 # helpers are invoked through check/wait_for
# test/e2e/udp-tunnel-offload.test.sh - udp-tunnel's data path under load, on two hosts
# of the udp-tunnel lab whose underlay drops 1 % of the tunnel's datagrams at random
# (an nft rule each way: this kernel has no netem), tunnel MTU 1400:
#   - 10 MB over TCP/IPv4 and 10 MB over TCP/IPv6 inside the tunnel arrive intact
#     (SHA-256 at both ends), and iperf3 completes;
#   - datagrams of mixed sizes (32..1372 bytes) arrive intact; pings of every size
#     from 0 to the MTU pass whole (DF);
#   - the offloads are really used (TSO and UDP GSO counted at the sender, GRO at the
#     receiver), or not, as the mode says.
# Modes: every offload, keyless and keyed; the kernel refusing UDP GSO at run time
# (the old-kernel stand-in: logged once, the same segments sent with sendmmsg);
# --no-offload, keyless and keyed.
#
# Run as root: test/e2e/udp-tunnel-offload.test.sh   (~2 min)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=test/e2e/lib.sh
. "$here/lib.sh"
need_root
need_cmd ip nft python3 iperf3 ping setsid
UT=${UDP_TUNNEL:-$root/dist/udp-tunnel-linux-x64}
[ -x "$UT" ] || bail "$UT is missing" "build it: node scripts/build/build.mjs --target linux-x64 udp-tunnel"
XFER="$here/udp-tunnel-xfer.py"

# shellcheck source=test/lab/udp-tunnel.sh
. "$here/../lab/udp-tunnel.sh"
tunnel_underlay_up
tunnel_underlay_add h1 192.0.2.1
tunnel_underlay_add h2 192.0.2.2
head -c 32 /dev/urandom | base64 >"$LAB_TMP/key"
for h in h1 h2; do
	# 1 % of the tunnel's datagrams, each way, dropped at random.
	nsx "$h" nft -f - <<'NFT'
table inet lossy {
	chain in {
		type filter hook input priority 0; policy accept;
		udp dport 5000 numgen random mod 100 < 1 counter drop
	}
}
NFT
done

T=$LAB_TMP
run() { # LABEL ENV FLAGS... : a daemon pair, one tunnel, the checks
	local label=$1 envs=$2 p
	shift 2
	echo "# ---------------- $label"
	local pids=()
	for h in h1 h2; do
		# shellcheck disable=SC2086 # ENV: zero or one NAME=VALUE word
		bg_in "$h" "$T/$h.out" env $envs "$UT" serve -dp 5000 -cp 5001 --control-socket "$T/$h.sock" --log "$T/$h.log" "$@"
		pids+=("$LAB_BG_PID")
		require_wait 10 "$h: daemon up" nsx "$h" "$UT" status --control-socket "$T/$h.sock"
	done
	nsx h1 "$UT" ctl -s 127.0.0.1 -o add -n ut0 -t 10.8.0.1 -m 24 --mtu 1400 -r 192.0.2.2 >/dev/null
	nsx h2 "$UT" ctl -s 127.0.0.1 -o add -n ut0 -t 10.8.0.2 -m 24 --mtu 1400 -r 192.0.2.1 >/dev/null
	nsx h1 ip -6 addr add fd00:98::1/64 dev ut0 nodad
	nsx h2 ip -6 addr add fd00:98::2/64 dev ut0 nodad
	require_wait 5 "the tunnel carries a ping" nsx h1 ping -c 1 -W 1 10.8.0.2

	local ok_sizes=1 s
	for s in 0 1 100 555 1000 1371 1372; do nsx h1 ping -c 1 -W 2 -M "do" -s "$s" 10.8.0.2 >/dev/null 2>&1 || nsx h1 ping -c 2 -W 2 -M "do" -s "$s" 10.8.0.2 >/dev/null 2>&1 || ok_sizes=0; done
	check "pings of 0..1372 bytes pass whole (DF)" test "$ok_sizes" = 1

	for dst in 10.8.0.2 fd00:98::2; do
		bg_in h2 "$T/recv.txt" python3 "$XFER" tcp-recv "$dst" 7000
		wait_for 5 "receiver ready ($dst)" grep -q ready "$T/recv.txt"
		sent=$(nsx h1 python3 "$XFER" tcp-send "$dst" 7000 10 2>&1 || true)
		wait_for 30 "10 MB over TCP to $dst arrive intact (SHA-256)" bash -c "[ \"\$(sed -n 2p '$T/recv.txt')\" = '$sent' ]"
	done

	bg_in h2 "$T/udp.txt" python3 "$XFER" udp-recv 10.8.0.2 7001 4
	wait_for 5 "UDP receiver ready" grep -q ready "$T/udp.txt"
	nsx h1 python3 "$XFER" udp-send 10.8.0.2 7001 500 1372
	udp_ok() { read -r good bad < <(sed -n 2p "$T/udp.txt") && echo "good $good bad $bad" && [ "$bad" = 0 ] && [ "$good" -ge 450 ]; }
	wait_for 8 "500 datagrams of mixed sizes: none damaged, at most the loss missing" udp_ok

	bg_in h2 "$T/iperf-s.txt" iperf3 -s -1 -B 10.8.0.2
	wait_for 5 "iperf3 server listening" bash -c "ip netns exec $(ns_name h2) ss -ltn | grep -q 10.8.0.2:5201"
	check "iperf3 TCP through the lossy tunnel completes (3 s)" nsx h1 iperf3 -c 10.8.0.2 -t 3 -f m
	grep -E 'receiver' "$T/iperf-s.txt" | tail -1 | sed "s/^/# $label: /" || true
	echo "# $(nsx h1 "$UT" status --control-socket "$T/h1.sock" | grep -E '^(data path|offloads)' | tr '\n' ' ')"
	echo "# $(nsx h2 "$UT" status --control-socket "$T/h2.sock" | grep -E '^offloads')"
	echo "# underlay drops: $(nsx h2 nft list chain inet lossy in | grep -o 'packets [0-9]*' | head -1)"
	offloads() { # HOST PYTHON-CONDITION on o (the offload counters)
		nsx "$1" "$UT" status --control-socket "$T/$1.sock" --json | python3 -c "import json,sys; s=json.load(sys.stdin); o=s['offloads']; p=s['dataPath']; sys.exit(0 if ($2) else 1)"
	}
	case $label in
	offload*)
		check "sender cut super-packets (TSO) and sent them with UDP GSO" offloads h1 "o['tsoSuperPackets'] > 0 and o['gsoSends'] > 0"
		check "receiver joined segments (GRO)" offloads h2 "o['groSuperPackets'] > 0"
		;;
	gso-refused*)
		check "UDP GSO refused at run time (EINVAL), the rest on" offloads h1 "p['udp-gso'] == {'state': 'refused', 'detail': 'EINVAL'} and p['tun-offload']['state'] == 'on' and o['tsoSuperPackets'] > 0"
		check "logged once" test "$(grep -c 'the kernel refused UDP GSO (EINVAL)' "$T/h1.log")" = 1
		;;
	no-offload*)
		check "no offload used" offloads h1 "o['tsoSuperPackets'] == 0 and o['gsoSends'] == 0 and p['batching']['state'] == 'off'"
		check "none on the receiver either" offloads h2 "o['groSuperPackets'] == 0"
		;;
	esac
	check "no ERROR logged" not grep -q ' ERROR ' "$T/h1.log" "$T/h2.log"
	for p in "${pids[@]}"; do bg_stop "$p"; done
	rm -f "$T"/*.log
}

run "offload, keyless" ""
run "offload, keyed" "" --key-file "$T/key"
run "gso-refused, keyless (the old-kernel stand-in)" "UDM_PROXIES_TEST_KERNEL_REFUSES=udp-gso"
run "no-offload, keyless" "" --no-offload
run "no-offload, keyed" "" --no-offload --key-file "$T/key"
finish
