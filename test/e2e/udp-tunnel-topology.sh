# shellcheck shell=bash
# test/e2e/udp-tunnel-topology.sh - sourced after lib.sh: three tunnel hosts on an
# underlay bridge (the original README's 172.100.1.x hosts are 192.0.2.x here), a LAN
# host behind each, and a stranger on the underlay:
#
#        h1 192.0.2.1        h2 192.0.2.2        h3 192.0.2.3      mallory 192.0.2.66
#     lan1 192.168.1.2    lan2 192.168.2.2    lan3 192.168.3.2   (LAN hosts, via hN .1)
#           \___________________ bridge (ns sw) _____________________/

tunnel_topology_up() {
	ns_add sw
	nsx sw ip link add br0 type bridge
	nsx sw ip link set br0 up
	underlay() { # NS ADDRESS
		ns_add "$1"
		ip link add eth0 netns "$(ns_name "$1")" type veth peer name "v-$1" netns "$(ns_name sw)"
		nsx sw ip link set "v-$1" master br0 up
		nsx "$1" ip addr add "$2/24" dev eth0
		nsx "$1" ip link set eth0 up
	}
	for i in 1 2 3; do
		underlay "h$i" "192.0.2.$i"
		# A LAN host behind each tunnel host, reached only through the tunnels.
		ns_add "lan$i"
		ip link add lan0 netns "$(ns_name "h$i")" type veth peer name eth0 netns "$(ns_name "lan$i")"
		nsx "h$i" ip addr add "192.168.$i.1/24" dev lan0
		nsx "h$i" ip link set lan0 up
		nsx "lan$i" ip addr add "192.168.$i.2/24" dev eth0
		nsx "lan$i" ip link set eth0 up
		nsx "lan$i" ip route add default via "192.168.$i.1"
		ns_sysctl "h$i" net.ipv4.ip_forward=1
	done
	underlay mallory 192.0.2.66
	require_wait 5 "underlay: h1 reaches h3" nsx h1 ping -c 1 -W 1 192.0.2.3
}
