# shellcheck shell=bash
# test/lab/udp-tunnel.sh - sourced after test/lab/lib.sh (or test/e2e/lib.sh): three
# tunnel hosts on an underlay bridge (the original README's 172.100.1.x hosts are 192.0.2.x
# here), a LAN host behind each, and a stranger on the underlay; for the udp-tunnel test,
# demo, bench and `make lab TOPO=udp-tunnel`:
#
#        h1 192.0.2.1        h2 192.0.2.2        h3 192.0.2.3      mallory 192.0.2.66
#     lan1 192.168.1.2    lan2 192.168.2.2    lan3 192.168.3.2   (LAN hosts, via hN .1)
#           \___________________ bridge (ns sw) _____________________/
#
# tunnel_topology_up        all of it
# tunnel_underlay_up        the bridge alone (ns sw)
# tunnel_underlay_add NS ADDRESS   a box on the underlay: NS eth0 ADDRESS/24
# tunnel_host_add I         hI on the underlay (192.0.2.I), routing for lanI behind it
# tunnel_serve_start H EXE  `udp-tunnel serve` on host H as the demo runs it (state, socket,
#                           pid file, log $LAB_TMP/H.*); waits until it answers
# tunnel_mesh EXE [SHOW]    the original README's mesh of h1, h2, h3 with `ctl add` (each
#                           line first shown by the function SHOW HOST ARGS..., if given)

tunnel_topology_up() {
	local i
	tunnel_underlay_up
	for i in 1 2 3; do tunnel_host_add "$i"; done
	tunnel_underlay_add mallory 192.0.2.66
	require_wait 5 "underlay: h1 reaches h3" nsx h1 ping -c 1 -W 1 192.0.2.3
}

tunnel_underlay_up() {
	ns_add sw
	nsx sw ip link add br0 type bridge
	nsx sw ip link set br0 up
}

tunnel_underlay_add() { # NS ADDRESS
	ns_add "$1"
	ip link add eth0 netns "$(ns_name "$1")" type veth peer name "v-$1" netns "$(ns_name sw)"
	nsx sw ip link set "v-$1" master br0 up
	nsx "$1" ip addr add "$2/24" dev eth0
	nsx "$1" ip link set eth0 up
}

tunnel_host_add() { # I
	local i=$1
	tunnel_underlay_add "h$i" "192.0.2.$i"
	# A LAN host behind each tunnel host, reached only through the tunnels.
	ns_add "lan$i"
	ip link add lan0 netns "$(ns_name "h$i")" type veth peer name eth0 netns "$(ns_name "lan$i")"
	nsx "h$i" ip addr add "192.168.$i.1/24" dev lan0
	nsx "h$i" ip link set lan0 up
	nsx "lan$i" ip addr add "192.168.$i.2/24" dev eth0
	nsx "lan$i" ip link set eth0 up
	nsx "lan$i" ip route add default via "192.168.$i.1"
	# A router, as the gateways are: forwarding IPv6 too, so the kernel sends no router
	# solicitations into the tunnels (a host does, at 0, 4, 12, 28 s ... from each tun's
	# start): those datagrams open each side's conntrack for the other, as hole punching.
	ns_sysctl "h$i" net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
}

tunnel_serve_start() { # HOST EXE
	daemon_start "$1" "$1" "udp-tunnel serve runs on $1" "$2" serve --state "$LAB_TMP/$1.state" \
		--control-socket "$LAB_TMP/$1.sock" --pid-file "$LAB_TMP/$1.pid" --log "$LAB_TMP/$1.log"
}

tunnel_mesh() { # EXE [SHOW]
	local exe=$1 show=${2:-} line
	while read -r line; do
		# shellcheck disable=SC2086 # "host ctl arguments", one per word
		set -- $line
		[ -z "$show" ] || "$show" "$@" # HOST ARGS: shows the line as typed on HOST
		nsx "$1" "$exe" ctl "${@:2}" </dev/null | sed 's/^/    /'
	done <<'EOF'
h1 -s 192.0.2.1 -o add -n udp2 -t 10.0.1.1 -r 192.0.2.2 -p 5001 --route 192.168.2.0/24
h1 -s 192.0.2.1 -o add -n udp3 -t 10.0.3.1 -r 192.0.2.3 -p 5001 --route 192.168.3.0/24
h2 -s 192.0.2.2 -o add -n udp1 -t 10.0.1.2 -r 192.0.2.1 -p 5001 --route 192.168.1.0/24
h2 -s 192.0.2.2 -o add -n udp3 -t 10.0.2.2 -r 192.0.2.3 -p 5001 --route 192.168.3.0/24
h3 -s 192.0.2.3 -o add -n udp1 -t 10.0.3.2 -r 192.0.2.1 -p 5001 --route 192.168.1.0/24
h3 -s 192.0.2.3 -o add -n udp2 -t 10.0.2.3 -r 192.0.2.2 -p 5001 --route 192.168.2.0/24
EOF
}

# For `make lab TOPO=udp-tunnel` (test/lab/up.sh): the three hosts meshed as in the demo.
lab_udp_tunnel() {
	local ut h
	lab_exe ut udp-tunnel
	tunnel_topology_up
	for h in h1 h2 h3; do tunnel_serve_start "$h" "$ut"; done
	tunnel_mesh "$ut" >/dev/null
	cat <<EOF
  h1 h2 h3   underlay eth0 192.0.2.1-3 (bridge in sw), LAN lan0 192.168.1-3.1; udp-tunnel serve
             (data 5000, control 127.0.0.1:5001), meshed: udp2/udp3 on h1, udp1/udp3 on h2, ...
  lan1-3     192.168.1-3.2 behind h1-3;  mallory 192.0.2.66 on the underlay
  try:  ip netns exec $(ns_name lan1) ping -c1 192.168.3.2
        ip netns exec $(ns_name h1) $ut ctl -s 192.0.2.1 -o list
EOF
}
