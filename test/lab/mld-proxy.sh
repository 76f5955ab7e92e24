# shellcheck shell=bash
# test/lab/mld-proxy.sh - the "UDM-Pro behind an MLD-snooping ISP gateway" lab, for the
# e2e tests, the demo, the bench and `make lab TOPO=mld-proxy`.
# Source test/lab/lib.sh (or test/e2e/lib.sh) first, then this file, then call
# mld_topology_up (the whole lab) or mld_quiet_topology_up (the bench's: below).
#
#   netns gw  (ISP gateway, e.g. NSD-G1000T)
#     sw0  Linux bridge, mcast_snooping 1 + mcast_querier 1, 2001:db8:1::1/64,
#          radvd advertising 2001:db8:1::/64 (on-link, autonomous)
#     ports: p-rtr  <-veth->  rtr:eth9
#            p-oth  <-veth->  oth:eth0      (another WAN device; MLD_WITH_OTHER=0 drops it)
#   netns rtr (the UDM-Pro, "SLAAC + Single Network")
#     eth9 WAN, accept_ra=2, SLAAC address 2001:db8:1::ff:fe00:9 (EUI-64 of 02:00:00:00:00:09)
#     br0  LAN bridge (no IPv6 global), radvd advertising 2001:db8:1::/64 (AdvOnLink off)
#     ndppd: proxy eth9 { rule 2001:db8:1::/64 { iface br0 } }   (what UniFi runs)
#     forwarding=1; routes: 2001:db8:1::/64 dev br0 metric 64 (wins over the RA's
#     on-link /64 on eth9, metric 256), 2001:db8:1::1/128 dev eth9 (the gateway itself),
#     default via the gateway's link-local from the RA.  AdvOnLink off on br0 makes
#     the host send everything (incl. replies to 2001:db8:1::1) to rtr; with it on, the
#     host would try to resolve the gateway's address on the LAN and nobody answers.
#   netns host (LAN host): eth0 <-veth-> rtr:p-host (a br0 port); SLAAC with
#     `ip token ::1234:5678` -> 2001:db8:1::1234:5678, privacy addresses off, DAD on.
#
# Exported after mld_topology_up (full netns names; use with `ip netns exec` or with
# the short names gw/rtr/host/oth through lib.sh's nsx):
#   GW_NS RTR_NS HOST_NS OTH_NS       netns names
#   GW_BR=sw0 GW_RTR_PORT=p-rtr GW_OTH_PORT=p-oth   (interfaces in gw)
#   RTR_WAN=eth9 RTR_LAN=br0 RTR_HOST_PORT=p-host   (interfaces in rtr)
#   HOST_IF=eth0 OTH_IF=eth0
#   PREFIX=2001:db8:1::/64  GW_ADDR=2001:db8:1::1  GW_LL (fe80::ff:fe00:1)
#   RTR_WAN_MAC RTR_WAN_ADDR RTR_WAN_LL RTR_WAN_SNMA (solicited-node group of eth9's own addrs)
#   HOST_TOKEN HOST_ADDR HOST_SNMA (ff02::1:ff34:5678) HOST_MAC
#   OTH_ADDR OTH_SNMA
#   RTR_NDPPD_CONF RTR_NDPPD_PID  (ndppd's config and bg pid; mld_ndppd_stop/start)
# mld_quiet_topology_up: the same names, but nothing that talks on its own, for the bench:
#   gw has only GW_RTR_PORT (IPv6 off; MLD reports are captured there), rtr has RTR_WAN
#   with RTR_WAN_ADDR (static) and RTR_LAN with port RTR_HOST_PORT, host has HOST_IF
#   (IPv6 off; NS frames are injected there). No snooping switch, RA, ndppd or DAD.
# mld_proxy_start EXE [FLAGS...]: mld-proxy on rtr as the demo runs it (RTR_WAN RTR_LAN,
#   log, pid file and socket $LAB_TMP/mld-proxy.{log,pid,sock}); pid in MP_PID.
# Helpers: mld_lan_host_add NAME TOKEN MAC  (another SLAAC host on br0),
#          mld_snma ADDR (prints the solicited-node group), mld_mdb_has GROUP PORT,
#          mld_gw_neigh_state ADDR, mld_join_start GROUP (a python3 IPV6_JOIN_GROUP
#          stand-in for mld-proxy on rtr:eth9; pid in LAB_BG_PID).
#
# ---- What it takes to make the Linux bridge snooping really DROP (all verified) ----
# * Without a querier the bridge floods unregistered multicast to every port (kernel
#   br_multicast_querier_exists() is false): snooping learns groups but drops nothing.
#   So mcast_querier 1 (or another querier on the segment) is required.
# * The querier needs an IPv6 address on sw0, and it must be a link-local one:
#   - no IPv6 address at all on sw0 -> no query can be built -> the bridge floods;
#   - only a global address -> queries go out from 2001:db8:1::1, hosts ignore MLD
#     queries whose source is not fe80::/10, so nobody answers, and every membership
#     (including a deliberate IPV6_JOIN_GROUP) times out after the membership interval.
#   Hence: sw0 gets its fe80:: address without DAD (accept_dad=0) and only once it has
#   one is mcast_querier switched on.  sw0 needs carrier (a port up) to get fe80::.
# * Right after mcast_querier is switched on the bridge still floods for one
#   query_response_interval (the kernel's querier "delay timer") - here ~1 s.
# * With a querier, unregistered multicast (no mdb entry) goes ONLY to multicast-router
#   ports.  ff02::1 is always flooded, but solicited-node groups ff02::1:ffXX:XXXX ARE
#   snooped (unlike IPv4 224.0.0.x).  A port is a router port if multicast_router=2, or
#   with the default 1 once a query/MRD arrives on it; nothing on eth9 sends queries,
#   so p-rtr stays a normal port (asserted below).  multicast_router=2 on p-rtr makes
#   the gateway's NS reach rtr with no join at all and would hide the bug.
#   `bridge -d link show` shows mcast_router / mcast_flood per port, `bridge -d mdb show`
#   the router ports.
# * mcast_flood off on the ports does NOT help: it is ignored for packets the bridge
#   device itself sends (the gateway's own NS), so it is left at the default (on).
# * Timers are in centiseconds (USER_HZ) for iproute2; the kernel clamps query and
#   startup intervals to >= 1 s.  Here an mdb entry lives 11 s without a refresh and the
#   querier queries every 5 s; a leave removes the entry within ~1 s.
# * MLD version: the bridge queries MLDv1 by default (MLD_VERSION=1 here, the default)
#   and Linux hosts answer with MLDv1 reports (sent to the group); MLD_VERSION=2 gives
#   MLDv2 queries and reports to ff02::16.  Both are snooped; an IPV6_JOIN_GROUP (ASM,
#   EXCLUDE{}) becomes a (*,G) entry either way, also with rtr's
#   net.ipv6.conf.eth9.force_mld_version=1 or =2 against either querier version.
# * rtr's eth9 has its own solicited-node group (ff02::1:ff00:9, shared by its fe80:: and
#   SLAAC address, plus ff02::1:ff00:0 for the subnet-router anycast since forwarding=1).
#   They are reported and forwarded normally; they would only "help" the host if the low
#   24 bits of an eth9 address equalled the host's - fixed MACs/tokens rule that out.
# * ndppd 0.2.5 in a netns works (it reads the netns's /proc/net/ipv6_route, needs no
#   proxy_ndp).  It sets eth9 ALLMULTI, which sends no MLD report, and joins no group,
#   so it only ever answers NSs that the switch delivers.  It also forwards NSs for
#   rtr's own eth9 address to br0 (the /64 rule covers it; harmless), and it sends its
#   NA to 2001:db8:1::1 even when the NS came from fe80::ff:fe00:1 (gw accepts it).
# * "Expiry": Linux re-validates a STALE entry by *unicast* probes first (ucast_solicit=3),
#   which snooping does not affect.  The real gateway refreshes by multicast NS to the
#   solicited-node group, so gw uses ucast_solicit=0 + mcast_resolicit=3: re-validation
#   probes go to ff02::1:ffXX:XXXX.  Short timers make a cycle take ~2-3 s:
#   REACHABLE 0.5-1.5 s -> STALE -> (traffic) DELAY 1 s -> PROBE 3 x 0.5 s -> FAILED.
#   `ip -6 neigh del`/flush forces a fresh resolution (also multicast) immediately.
#   GC of stale entries cannot be sped up per netns (gc_thresh* are global), so tests
#   should not wait for gc_stale_time.  Also: a long-running iputils ping sends with
#   MSG_CONFIRM once replies come in, keeping the entry REACHABLE - use one ping per
#   packet when the expiry cycle matters.
# * iproute2 pitfall: `ip link add br type bridge` parses "br" as "broadcast" - always
#   write `ip link add name IFNAME ...`.

MLD_VERSION="${MLD_VERSION:-1}"
MLD_WITH_OTHER="${MLD_WITH_OTHER:-1}"

PREFIX=2001:db8:1::/64
GW_ADDR=2001:db8:1::1
GW_MAC=02:00:00:00:00:01
GW_LL=fe80::ff:fe00:1
GW_BR=sw0
GW_RTR_PORT=p-rtr
GW_OTH_PORT=p-oth
RTR_WAN=eth9
RTR_LAN=br0
RTR_HOST_PORT=p-host
RTR_WAN_MAC=02:00:00:00:00:09
RTR_WAN_ADDR=2001:db8:1::ff:fe00:9
RTR_WAN_LL=fe80::ff:fe00:9
RTR_WAN_SNMA=ff02::1:ff00:9
RTR_LAN_MAC=02:00:00:00:00:0b
HOST_IF=eth0
HOST_TOKEN=::1234:5678
HOST_ADDR=2001:db8:1::1234:5678
HOST_SNMA=ff02::1:ff34:5678
HOST_MAC=02:00:00:00:01:01
OTH_IF=eth0
OTH_MAC=02:00:00:00:02:01
OTH_ADDR=2001:db8:1::bbbb:cc01
OTH_SNMA=ff02::1:ffbb:cc01
export PREFIX GW_ADDR GW_MAC GW_LL GW_BR GW_RTR_PORT GW_OTH_PORT RTR_WAN RTR_LAN \
	RTR_HOST_PORT RTR_WAN_MAC RTR_WAN_ADDR RTR_WAN_LL RTR_WAN_SNMA HOST_IF HOST_TOKEN \
	HOST_ADDR HOST_SNMA HOST_MAC OTH_IF OTH_ADDR OTH_SNMA MLD_VERSION
GW_NS=$(ns_name gw)
RTR_NS=$(ns_name rtr)
HOST_NS=$(ns_name host)
OTH_NS=$(ns_name oth)
export GW_NS RTR_NS HOST_NS OTH_NS
RTR_NDPPD_CONF="$LAB_TMP/ndppd.conf"
RTR_NDPPD_PID=
export RTR_NDPPD_CONF

# mld_snma ADDR : solicited-node multicast group of an IPv6 address.
mld_snma() {
	python3 -c 'import ipaddress,sys; a=ipaddress.IPv6Address(sys.argv[1]).packed
print(ipaddress.IPv6Address(bytes.fromhex("ff0200000000000000000001ff") + a[13:]))' "$1"
}

# mld_mdb_has GROUP PORT : gw's bridge has an mdb entry GROUP on PORT.
mld_mdb_has() {
	nsx gw bridge mdb show dev "$GW_BR" | grep -E "port $2 grp $1( |$)"
}

# mld_router_ports : router ports currently known to sw0 (one per line).
mld_router_ports() {
	nsx gw bridge -d mdb show dev "$GW_BR" | sed -n 's/^router ports on [^:]*: *//p' |
		tr ' ' '\n' | grep -v '^[0-9.]*$' | grep . || true
}

# mld_gw_neigh_state ADDR : e.g. REACHABLE / STALE / FAILED / none.
mld_gw_neigh_state() {
	local s
	s=$(nsx gw ip -6 neigh show "$1" dev "$GW_BR" | awk '{print $NF}')
	printf '%s\n' "${s:-none}"
}

# _mld_addr_ready NS IF ADDR : ADDR is configured on IF and not tentative.
_mld_addr_ready() {
	nsx "$1" ip -6 addr show dev "$2" | grep -F "inet6 $3/" | grep -vq tentative
}

_mld_radvd_conf() { # IFACE ONLINK
	cat <<EOF
interface $1 {
	AdvSendAdvert on;
	MinRtrAdvInterval 3;
	MaxRtrAdvInterval 4;
	prefix $PREFIX {
		AdvOnLink $2;
		AdvAutonomous on;
	};
};
EOF
}

# mld_lan_host_add NAME TOKEN MAC : a SLAAC host on rtr's br0 (port p-NAME).
mld_lan_host_add() {
	local name=$1 token=$2 mac=$3
	ns_add "$name"
	ip -n "$RTR_NS" link add name "p-$name" type veth peer name eth0 address "$mac" netns "$(ns_name "$name")"
	# The bridge port itself needs no IPv6 (no fe80:: of its own on the LAN).
	ns_sysctl rtr "net.ipv6.conf.p-$name.disable_ipv6=1"
	ip -n "$RTR_NS" link set "p-$name" master "$RTR_LAN" up
	ns_sysctl "$name" net.ipv6.conf.eth0.use_tempaddr=0 net.ipv6.conf.eth0.addr_gen_mode=0 \
		net.ipv6.conf.eth0.accept_ra=1 net.ipv6.conf.eth0.autoconf=1
	# The token must be set before the link comes up (before the first RA is processed).
	nsx "$name" ip token set "$token" dev eth0
	nsx "$name" ip link set eth0 up
}

mld_ndppd_start() {
	bg_in rtr "$LAB_TMP/ndppd.log" ndppd -c "$RTR_NDPPD_CONF" -p "$LAB_TMP/ndppd.pid" -vv
	RTR_NDPPD_PID=$LAB_BG_PID
}
mld_ndppd_stop() { [ -z "$RTR_NDPPD_PID" ] || bg_stop "$RTR_NDPPD_PID"; RTR_NDPPD_PID=; }

# mld_join_start GROUP : stand-in for mld-proxy - joins GROUP on rtr:eth9 with
# IPV6_JOIN_GROUP and keeps the socket open until killed (pid in LAB_BG_PID).
mld_join_start() {
	bg_in rtr "$LAB_TMP/join-$1.log" python3 -u -c '
import socket, struct, sys, time, signal
grp, ifname = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP,
             socket.inet_pton(socket.AF_INET6, grp) + struct.pack("@I", socket.if_nametoindex(ifname)))
print("joined", grp, "on", ifname, flush=True)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
while True:
    time.sleep(3600)
' "$1" "$RTR_WAN"
}

mld_topology_up() {
	local full_gw full_rtr
	ns_add gw
	ns_add rtr
	full_gw=$GW_NS
	full_rtr=$RTR_NS

	# ---------------- gw: the ISP gateway with an MLD-snooping switch
	ns_sysctl gw net.ipv6.conf.all.forwarding=1 net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.all.accept_dad=0
	# Timers in centiseconds: query every 5 s, 1 s response window, membership 11 s
	# (= 2 * 5 + 1), other-querier 10.5 s, startup queries every 1 s.
	ip -n "$full_gw" link add name "$GW_BR" address "$GW_MAC" type bridge \
		stp_state 0 mcast_snooping 1 mcast_querier 0 mcast_mld_version "$MLD_VERSION" \
		mcast_query_interval 500 mcast_query_response_interval 100 \
		mcast_membership_interval 1100 mcast_querier_interval 1050 \
		mcast_startup_query_interval 100 mcast_startup_query_count 2 \
		mcast_last_member_interval 50 mcast_last_member_count 2
	ns_sysctl gw "net.ipv6.conf.$GW_BR.accept_dad=0" "net.ipv6.conf.$GW_BR.addr_gen_mode=0" \
		"net.ipv6.neigh.$GW_BR.base_reachable_time_ms=1000" \
		"net.ipv6.neigh.$GW_BR.delay_first_probe_time=1" \
		"net.ipv6.neigh.$GW_BR.retrans_time_ms=500" \
		"net.ipv6.neigh.$GW_BR.ucast_solicit=0" \
		"net.ipv6.neigh.$GW_BR.mcast_resolicit=3" \
		"net.ipv6.neigh.$GW_BR.mcast_solicit=3" \
		"net.ipv6.neigh.$GW_BR.gc_stale_time=3"

	# ---------------- rtr: the UDM
	ns_sysctl rtr net.ipv6.conf.all.forwarding=1 net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.all.accept_dad=0
	ip -n "$full_rtr" link add name "$RTR_WAN" address "$RTR_WAN_MAC" type veth \
		peer name "$GW_RTR_PORT" netns "$full_gw"
	ns_sysctl rtr "net.ipv6.conf.$RTR_WAN.accept_ra=2" "net.ipv6.conf.$RTR_WAN.autoconf=1" \
		"net.ipv6.conf.$RTR_WAN.accept_dad=0" "net.ipv6.conf.$RTR_WAN.addr_gen_mode=0" \
		"net.ipv6.conf.$RTR_WAN.use_tempaddr=0"
	ip -n "$full_rtr" link add name "$RTR_LAN" address "$RTR_LAN_MAC" type bridge stp_state 0
	ns_sysctl rtr "net.ipv6.conf.$RTR_LAN.accept_dad=0" "net.ipv6.conf.$RTR_LAN.accept_ra=0"
	# Switch ports carry no IPv6 of their own (only sw0 does).
	ns_sysctl gw "net.ipv6.conf.$GW_RTR_PORT.disable_ipv6=1"
	ip -n "$full_gw" link set "$GW_RTR_PORT" master "$GW_BR" up

	if [ "$MLD_WITH_OTHER" = 1 ]; then
		ns_add oth
		ip -n "$full_gw" link add name "$GW_OTH_PORT" type veth peer name "$OTH_IF" \
			address "$OTH_MAC" netns "$OTH_NS"
		ns_sysctl gw "net.ipv6.conf.$GW_OTH_PORT.disable_ipv6=1"
		ip -n "$full_gw" link set "$GW_OTH_PORT" master "$GW_BR" up
		ns_sysctl oth "net.ipv6.conf.$OTH_IF.accept_dad=0" "net.ipv6.conf.$OTH_IF.use_tempaddr=0"
		nsx oth ip token set ::bbbb:cc01 dev "$OTH_IF"
	fi

	# sw0 only gets carrier (and so its fe80:: address) once a port has carrier.
	ip -n "$full_rtr" link set "$RTR_WAN" up
	if [ "$MLD_WITH_OTHER" = 1 ]; then nsx oth ip link set "$OTH_IF" up; fi
	ip -n "$full_gw" link set "$GW_BR" up
	ip -n "$full_gw" -6 addr add "$GW_ADDR/64" dev "$GW_BR" nodad
	# The querier needs sw0's link-local address first (see header).
	require_wait 5 "lab: gw $GW_BR has link-local $GW_LL" _mld_addr_ready gw "$GW_BR" "$GW_LL"
	ip -n "$full_gw" link set "$GW_BR" type bridge mcast_querier 1

	_mld_radvd_conf "$GW_BR" on >"$LAB_TMP/radvd-gw.conf"
	bg_in gw "$LAB_TMP/radvd-gw.log" radvd -n -d 1 -m stderr -C "$LAB_TMP/radvd-gw.conf" -p "$LAB_TMP/radvd-gw.pid"

	ip -n "$full_rtr" link set "$RTR_LAN" up
	mld_lan_host_add host "$HOST_TOKEN" "$HOST_MAC"

	require_wait 15 "lab: rtr $RTR_WAN autoconfigured $RTR_WAN_ADDR from gw's RA" \
		_mld_addr_ready rtr "$RTR_WAN" "$RTR_WAN_ADDR"
	require_wait 10 "lab: rtr has a default route via gw's link-local" \
		sh -c "ip -n '$full_rtr' -6 route show default | grep -q 'via $GW_LL dev $RTR_WAN'"
	# LAN side: the /64 lives on br0 (more preferred than the RA's on-link /64 on eth9),
	# the gateway's own global address stays reachable on eth9.
	ip -n "$full_rtr" -6 route add "$PREFIX" dev "$RTR_LAN" metric 64
	ip -n "$full_rtr" -6 route add "$GW_ADDR/128" dev "$RTR_WAN" metric 64

	cat >"$RTR_NDPPD_CONF" <<EOF
route-ttl 30000
proxy $RTR_WAN {
	router yes
	timeout 500
	ttl 30000
	rule $PREFIX {
		iface $RTR_LAN
	}
}
EOF
	mld_ndppd_start
	_mld_radvd_conf "$RTR_LAN" off >"$LAB_TMP/radvd-rtr.conf"
	bg_in rtr "$LAB_TMP/radvd-rtr.log" radvd -n -d 1 -m stderr -C "$LAB_TMP/radvd-rtr.conf" -p "$LAB_TMP/radvd-rtr.pid"

	require_wait 20 "lab: host autoconfigured $HOST_ADDR (DAD done)" \
		_mld_addr_ready host "$HOST_IF" "$HOST_ADDR"
	if [ "$MLD_WITH_OTHER" = 1 ]; then
		require_wait 15 "lab: oth autoconfigured $OTH_ADDR" _mld_addr_ready oth "$OTH_IF" "$OTH_ADDR"
	fi
	require_wait 10 "lab: gw snooping learned rtr's own group $RTR_WAN_SNMA on $GW_RTR_PORT" \
		mld_mdb_has "$RTR_WAN_SNMA" "$GW_RTR_PORT"
	require "lab: $GW_RTR_PORT is not a multicast router port" \
		sh -c "! ip netns exec '$full_gw' bridge -d mdb show dev '$GW_BR' | grep -E 'router ports.*$GW_RTR_PORT'"
	require "lab: ndppd is running in rtr" bg_alive "$RTR_NDPPD_PID"
}

mld_quiet_topology_up() {
	local n
	ns_add gw
	ns_add rtr
	ns_add host
	for n in gw rtr host; do
		# No DAD: addresses work at once and the lab sends no NS of its own.
		ns_sysctl "$n" net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	done
	ip -n "$RTR_NS" link add "$RTR_WAN" address "$RTR_WAN_MAC" type veth peer name "$GW_RTR_PORT" netns "$GW_NS"
	ns_sysctl gw "net.ipv6.conf.$GW_RTR_PORT.disable_ipv6=1"
	ip -n "$GW_NS" link set "$GW_RTR_PORT" up
	ip -n "$RTR_NS" link set "$RTR_WAN" up
	ip -n "$RTR_NS" addr add "$RTR_WAN_ADDR/64" dev "$RTR_WAN" nodad
	ip -n "$RTR_NS" link add "$RTR_LAN" type bridge
	ip -n "$RTR_NS" link set "$RTR_LAN" up
	ip -n "$RTR_NS" link add "$RTR_HOST_PORT" type veth peer name "$HOST_IF" address "$HOST_MAC" netns "$HOST_NS"
	ns_sysctl host "net.ipv6.conf.$HOST_IF.disable_ipv6=1"
	ip -n "$RTR_NS" link set "$RTR_HOST_PORT" master "$RTR_LAN" up
	ip -n "$HOST_NS" link set "$HOST_IF" up
}

mld_proxy_start() { # EXE [FLAGS...]
	local exe=$1
	shift
	daemon_start rtr mld-proxy "mld-proxy is running" "$exe" "$@" --log "$LAB_TMP/mld-proxy.log" \
		--pid-file "$LAB_TMP/mld-proxy.pid" --control-socket "$LAB_TMP/mld-proxy.sock" "$RTR_WAN" "$RTR_LAN"
	# shellcheck disable=SC2034 # for the caller
	MP_PID=$LAB_BG_PID
}

# For `make lab TOPO=mld-proxy` (test/lab/up.sh): the lab with mld-proxy running.
lab_mld_proxy() {
	local mp
	lab_exe mp mld-proxy
	mld_topology_up
	mld_proxy_start "$mp" --check-interval 5
	cat <<EOF
  gw    the ISP gateway: snooping switch $GW_BR ($GW_ADDR), radvd for $PREFIX
  rtr   the UDM: WAN $RTR_WAN ($RTR_WAN_ADDR), LAN bridge $RTR_LAN, ndppd, mld-proxy
  host  a LAN host, $HOST_IF $HOST_ADDR (group $HOST_SNMA)
  oth   another device on the gateway's switch, $OTH_ADDR
  try:  ip netns exec $GW_NS bridge mdb show dev $GW_BR
        ip netns exec $GW_NS ping -6 -c1 $HOST_ADDR
        ip netns exec $RTR_NS $mp status --control-socket $LAB_TMP/mld-proxy.sock
EOF
}
