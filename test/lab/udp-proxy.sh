# shellcheck shell=bash
# test/lab/udp-proxy.sh - sourced after test/lab/lib.sh (or test/e2e/lib.sh): a client,
# a proxy host and a DNS service (dnsmasq) that receives on a VIP and answers from its
# real address; for the udp-proxy test, demo, bench and `make lab TOPO=udp-proxy`.
#
#   client 10.0.1.2 fd00:1::2 --- 10.0.1.1 fd00:1::1  proxy  10.0.2.1 fd00:2::1 --- service
#                                                      VIP 10.0.2.254 fd00:2::254 (dnsmasq)
#                                                      real 10.0.2.2 fd00:2::2 (replies: nft SNAT)
#                                                      other 10.0.2.3 (a foreign source)
# Namespaces (short names for nsx): client, proxy, svc. Needs ip, nft (or iptables-legacy),
# dnsmasq, dig.
#
# udp_topology_up           all of it: udp_links_up, then the VIP service (nft, dnsmasq)
# udp_links_up              the three boxes and their addresses; the proxy does not route
# udp_route_direct          the proxy routes between client and service (the bench's
#                           direct path to compare with)
# udp_proxy_start EXE ARGS...  udp-proxy on the proxy box (control socket and pid file
#                           $LAB_TMP/udp-proxy.{sock,pid}); pid in UP_PID

udp_topology_up() {
	udp_links_up
	udp_vip_service_up
}

udp_links_up() {
	ns_add client
	ns_add proxy
	ns_add svc
	ip link add c0 netns "$(ns_name client)" type veth peer name p0 netns "$(ns_name proxy)"
	ip link add p1 netns "$(ns_name proxy)" type veth peer name s0 netns "$(ns_name svc)"
	nsx client ip addr add 10.0.1.2/24 dev c0
	nsx client ip -6 addr add fd00:1::2/64 dev c0 nodad
	nsx proxy ip addr add 10.0.1.1/24 dev p0
	nsx proxy ip -6 addr add fd00:1::1/64 dev p0 nodad
	nsx proxy ip addr add 10.0.2.1/24 dev p1
	nsx proxy ip -6 addr add fd00:2::1/64 dev p1 nodad
	for a in 10.0.2.2 10.0.2.254 10.0.2.3; do nsx svc ip addr add "$a/24" dev s0; done
	for a in fd00:2::2 fd00:2::254; do nsx svc ip -6 addr add "$a/64" dev s0 nodad; done
	nsx client ip link set c0 up
	nsx proxy ip link set p0 up
	nsx proxy ip link set p1 up
	nsx svc ip link set s0 up
	# The proxy does not route: the client can reach the service only through udp-proxy.
	ns_sysctl proxy net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0
}

udp_route_direct() {
	nsx client ip route add default via 10.0.1.1
	nsx svc ip route add default via 10.0.2.1
	ns_sysctl proxy net.ipv4.ip_forward=1
}

udp_vip_service_up() {
	# The service answers from its real address, not the VIP it was asked on: queries are
	# not tracked, so each reply is a new flow and the SNAT rule applies to it.
	if ! command -v nft >/dev/null; then
		# A UniFi-shaped host (the arm64 VM) has iptables-legacy only: the same two rules.
		nsx svc iptables-legacy -t raw -A PREROUTING -d 10.0.2.254 -p udp --dport 53 -j NOTRACK
		nsx svc ip6tables-legacy -t raw -A PREROUTING -d fd00:2::254 -p udp --dport 53 -j NOTRACK
		nsx svc iptables-legacy -t nat -A POSTROUTING -s 10.0.2.254 -p udp --sport 53 -j SNAT --to-source 10.0.2.2
		nsx svc ip6tables-legacy -t nat -A POSTROUTING -s fd00:2::254 -p udp --sport 53 -j SNAT --to-source fd00:2::2
	else
		udp_vip_nft
	fi
	udp_vip_dnsmasq_up
}

udp_vip_nft() {
	nsx svc nft -f - <<'EOF'
table inet vipreply {
	chain pre {
		type filter hook prerouting priority raw; policy accept;
		ip daddr 10.0.2.254 udp dport 53 notrack
		ip6 daddr fd00:2::254 udp dport 53 notrack
	}
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr 10.0.2.254 udp sport 53 snat ip to 10.0.2.2
		ip6 saddr fd00:2::254 udp sport 53 snat ip6 to fd00:2::2
	}
}
EOF
}

udp_vip_dnsmasq_up() {
	bg_in svc "$LAB_TMP/dnsmasq.log" dnsmasq -k -C /dev/null --pid-file= -u root -g root --no-resolv --no-hosts \
		--log-facility=- --address=/svc.test/192.0.2.53 --address=/svc.test/2001:db8::53
	require_wait 5 "dnsmasq answers on the VIP (from the service itself)" \
		nsx svc dig +short +tries=1 +time=1 @10.0.2.254 svc.test A
}

udp_proxy_start() { # EXE ARGS...
	local exe=$1
	shift
	daemon_start proxy udp-proxy "udp-proxy is running" "$exe" --control-socket "$LAB_TMP/udp-proxy.sock" \
		--pid-file "$LAB_TMP/udp-proxy.pid" "$@"
	# shellcheck disable=SC2034 # for the caller
	UP_PID=$LAB_BG_PID
}

# For `make lab TOPO=udp-proxy` (test/lab/up.sh): the lab with udp-proxy running as at
# the end of the demo (the service's real address as a reply alias).
lab_udp_proxy() {
	local up
	lab_exe up udp-proxy
	udp_topology_up
	udp_proxy_start "$up" --listen 10.0.1.1:5353 --upstream 10.0.2.254:53 --reply-alias 10.0.2.2
	cat <<EOF
  client  c0 10.0.1.2 fd00:1::2
  proxy   p0 10.0.1.1 fd00:1::1, p1 10.0.2.1 fd00:2::1; udp-proxy on 10.0.1.1:5353 (no routing)
  svc     s0: VIP 10.0.2.254 (dnsmasq, answers svc.test), real 10.0.2.2, other 10.0.2.3
  try:  ip netns exec $(ns_name client) dig +short @10.0.1.1 -p 5353 svc.test A
        ip netns exec $(ns_name proxy) $up status --control-socket $LAB_TMP/udp-proxy.sock
EOF
}
