# shellcheck shell=bash
# test/lab/udp-tunnel-roam.sh - sourced after test/lab/lib.sh (or test/e2e/lib.sh): homes
# whose addresses move, around one router r, for udp-tunnel's roaming test (x86) and its
# run in the arm64 VM (test/lab/vm/guest/proxies.sh):
#
#   a (two uplinks)  wan0 198.51.100.10   wan1 203.0.113.10   -- r --  b 192.0.2.2 (public)
#   c 10.9.0.2 -- n (a home router: masquerade to 100.64.0.2) -- r     mallory 198.18.0.66
#
# roam_lab_up               all of it; returns once b reaches a
# roam_link NS IF RIF       a veth between NS (IF) and r (RIF), both up
# roam_move_wan ADDRESS     a's WAN address becomes 198.51.100.ADDRESS (the old one goes, as
#                           a DHCP or PPPoE renewal does); ROAM_WAN holds the last byte
# roam_heal NS ADDRESS      prints the seconds (0.1 s steps) until one ping from NS to
#                           ADDRESS answers; 99 if none within 20 s

roam_link() {
	ip link add "$2" netns "$(ns_name "$1")" type veth peer name "$3" netns "$(ns_name r)"
	nsx "$1" ip link set "$2" up
	nsx r ip link set "$3" up
}

roam_lab_up() {
	local n
	ns_add r
	ns_sysctl r net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	for n in a b c n m; do ns_add "$n"; done
	roam_link a wan0 ra0
	roam_link a wan1 ra1
	roam_link b eth0 rb0
	roam_link n wan0 rn0
	roam_link m eth0 rm0
	ip link add eth0 netns "$(ns_name c)" type veth peer name lan0 netns "$(ns_name n)"
	nsx c ip link set eth0 up
	nsx n ip link set lan0 up
	nsx r ip addr add 198.51.100.1/24 dev ra0
	nsx r ip addr add 203.0.113.1/24 dev ra1
	nsx r ip addr add 192.0.2.1/24 dev rb0
	nsx r ip addr add 100.64.0.1/24 dev rn0
	nsx r ip addr add 198.18.0.1/24 dev rm0
	# The new address is added before the old one goes: promoted, not the route lost with it.
	ns_sysctl a net.ipv4.conf.wan0.promote_secondaries=1
	nsx a ip addr add 198.51.100.10/24 dev wan0
	nsx a ip addr add 203.0.113.10/24 dev wan1
	nsx a ip route add default via 198.51.100.1 dev wan0
	ROAM_WAN=10
	nsx b ip addr add 192.0.2.2/24 dev eth0
	nsx b ip route add default via 192.0.2.1
	nsx n ip addr add 100.64.0.2/24 dev wan0
	nsx n ip addr add 10.9.0.1/24 dev lan0
	nsx n ip route add default via 100.64.0.1
	ns_sysctl n net.ipv4.ip_forward=1
	# A home router: its LAN leaves masqueraded, nothing is forwarded in.
	nsx n iptables -t nat -A POSTROUTING -o wan0 -j MASQUERADE
	nsx n iptables -A FORWARD -i wan0 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
	nsx n iptables -A FORWARD -i wan0 -j DROP
	nsx c ip addr add 10.9.0.2/24 dev eth0
	nsx c ip route add default via 10.9.0.1
	nsx m ip addr add 198.18.0.66/24 dev eth0
	nsx m ip route add default via 198.18.0.1
	require_wait 5 "underlay: b reaches a" nsx b ping -c 1 -W 1 198.51.100.10
}

roam_move_wan() { # ADDRESS (last byte)
	nsx a ip addr add "198.51.100.$1/24" dev wan0
	nsx a ip addr del "198.51.100.$ROAM_WAN/24" dev wan0
	nsx a ip route replace default via 198.51.100.1 dev wan0 src "198.51.100.$1"
	ROAM_WAN=$1
}

roam_heal() { # NS ADDRESS
	local t0 t1
	t0=$(date +%s.%N)
	until nsx "$1" ping -c 1 -W 0.2 "$2" >/dev/null 2>&1; do
		if awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { exit !(b - a > 20) }'; then
			echo 99
			return
		fi
	done
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }'
}
