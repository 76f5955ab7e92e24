#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/../test/lab source-path=SCRIPTDIR
# A narrated demo of udp-tunnel: three hosts meshed at run time with
# `udp-tunnel ctl`, as in the original README, pings across the mesh, the
# tunnel list, and one tunnel deleted. Everything runs in network namespaces
# this script creates and removes; no packet leaves them.
#
# Usage: scripts/dev/demo-udp-tunnel.sh    (`make demo` builds first and runs it; as root; about 10 s)
# Exits non-zero if a step that should work does not.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/test/lab/lib.sh"
need_root
need_cmd ip ping setsid
. "$root/test/lab/udp-tunnel.sh"
. "$root/scripts/dev/demo-lib.sh"

lab_exe UT udp-tunnel
# show_ctl HOST ARGS... : show `udp-tunnel ctl` as typed on that host.
show_ctl() {
	local h=$1
	shift
	shown "$h" udp-tunnel ctl "$@"
}
# ctl HOST ARGS... : show and run it.
ctl() {
	show_ctl "$@"
	nsx "$1" "$UT" ctl "${@:2}" | sed 's/^/    /'
}
reach() { nsx "$1" ping -c 1 -W 1 "$2" >/dev/null; }

t0=$(date +%s)
section "1. The network"
say "Three hosts h1, h2, h3 on one underlay (192.0.2.1-3), each with a LAN behind it" \
	"(192.168.1-3.0/24). Each runs 'udp-tunnel serve': data on UDP 5000, control on" \
	"127.0.0.1:5001, tunnels kept in a state file. Building it..."
tunnel_topology_up
for h in h1 h2 h3; do tunnel_serve_start "$h" "$UT"; done

section "2. Mesh them at run time, as the original README does"
say "Each 'add' makes a tun device with a tunnel address; packets read from it go as UDP" \
	"to the remote's data port. --route sends a LAN through the tunnel."
tunnel_mesh "$UT" show_ctl

section "3. Pings across the mesh"
for pair in "h1 10.0.1.2" "h1 10.0.3.2" "h2 10.0.2.3" "h1 192.168.2.2" "h2 192.168.3.2" "h3 192.168.1.2"; do
	# shellcheck disable=SC2086 # "host address"
	require_wait 5 "ping ${pair/ / -> }" reach $pair
done

section "4. The tunnels h1 knows"
ctl h1 -s 192.0.2.1 -o list

section "5. Delete one tunnel"
say "'del' removes the device and its routes; the state file forgets it."
ctl h1 -s 192.0.2.1 -o del -n udp2
require "h1 has no udp2 device any more" not nsx h1 ip link show udp2
require "h1 no longer reaches h2's LAN (192.168.2.2)" not reach h1 192.168.2.2
require "h1 still reaches h3's LAN through udp3" reach h1 192.168.3.2
say "" "Done in $(($(date +%s) - t0)) s. The namespaces are removed now."
