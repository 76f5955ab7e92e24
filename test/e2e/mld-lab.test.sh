#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2119,SC2120 # helpers are invoked through check/wait_for
# test/e2e/mld-lab.test.sh - proves the lab reproduces the UDM-Pro + MLD-snooping
# problem and the mechanism of the fix, WITHOUT mld-proxy: a python3 socket doing
# IPV6_JOIN_GROUP for the host's solicited-node group on rtr:eth9 stands in for it.
#
#   a. no join:   gw's NS for HOST_ADDR goes to ff02::1:ff34:5678, snooping has no
#                 member on p-rtr, so the NS never reaches rtr/ndppd -> a known entry
#                 expires (STALE -> multicast PROBE -> FAILED) and fresh resolution fails.
#   b. join:      mdb lists the group on p-rtr, NS reaches ndppd, gw reaches the host,
#                 also across several expiry cycles and past the mdb membership interval.
#   c. leave:     closing the socket removes the mdb entry and the problem comes back.
#   d. control:   with snooping off the bridge floods and it works without any join.
#
# Run as root: test/e2e/mld-lab.test.sh   (MLD_VERSION=2 for an MLDv2 querier)
# Takes ~30 s.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=test/e2e/lib.sh
. "$here/lib.sh"
need_root
need_cmd ip bridge tcpdump ndppd radvd python3 ping setsid awk
MLD_WITH_OTHER=1 # this test uses the other WAN port
# shellcheck source=test/lab/mld-proxy.sh
. "$here/../lab/mld-proxy.sh"

t0=$(date +%s)
mld_topology_up

NS_RE="who has $HOST_ADDR,"                      # tcpdump text of an NS for the host
MNS_RE="> $HOST_SNMA: ICMP6, neighbor solicitation, $NS_RE"   # ... sent to its group
NS_FILTER=(icmp6 and 'ip6[40] == 135')

gw_ping() { nsx gw ping -6 -n -c1 -W"${1:-1}" "$HOST_ADDR"; }
gw_forget() { nsx gw ip -6 neigh del "$HOST_ADDR" dev "$GW_BR" 2>/dev/null || true; }
mdb_dump() { nsx gw bridge mdb show dev "$GW_BR" | sed 's/^/#   mdb: /'; }

# ------------------------------------------------------------------ a. without join
echo "# a. without a WAN-side join"
check "host is a member of $HOST_SNMA on the LAN" \
	sh -c "ip netns exec '$HOST_NS' ip -6 maddr show dev '$HOST_IF' | grep -q '$HOST_SNMA'"
check "gw mdb has no $HOST_SNMA on any port" not mld_mdb_has "$HOST_SNMA" '[^ ]+'
mdb_dump

cap_start a-gw gw "$GW_BR" "${NS_FILTER[@]}"
cap_start a-rtr rtr "$RTR_WAN" "${NS_FILTER[@]}"
cap_start a-oth oth "$OTH_IF" "${NS_FILTER[@]}"

# A gateway that had learned the host (as the real one did at some point) ...
nsx gw ip -6 neigh replace "$HOST_ADDR" lladdr "$RTR_WAN_MAC" dev "$GW_BR" nud stale
check "known (STALE) entry: gw still reaches the host" gw_ping
# ... re-validates it by multicast NS (ucast_solicit=0); nobody gets it -> it expires.
wait_for 8 "gw's entry for the host expires (FAILED/gone) - refresh NS dropped" \
	sh -c "s=\$(ip netns exec '$GW_NS' ip -6 neigh show '$HOST_ADDR' dev '$GW_BR'); case \$s in ''|*FAILED*) exit 0;; *) echo \"\$s\"; exit 1;; esac"
check "after expiry gw cannot reach the host" not gw_ping
gw_forget
check "fresh resolution (multicast NS) fails too" not gw_ping 2
cap_stop a-gw
cap_stop a-rtr
cap_stop a-oth
check "gw did send NSs for the host to $HOST_SNMA ($(cap_count a-gw "$MNS_RE") seen on $GW_BR)" \
	test "$(cap_count a-gw "$MNS_RE")" -ge 3
check "no NS for the host was forwarded to rtr's port (tcpdump on rtr:$RTR_WAN)" \
	not cap_seen a-rtr "$NS_RE"
check "nor to the other WAN port (snooping prunes, it does not flood)" not cap_seen a-oth "$NS_RE"
check "ndppd never got an NS for the host" \
	not grep -q "handle_solicit() .*taddr=$HOST_ADDR" "$LAB_TMP/ndppd.log"

# ------------------------------------------------------------------ b. with join
echo "# b. rtr joins $HOST_SNMA on $RTR_WAN (stand-in for mld-proxy)"
mld_join_start "$HOST_SNMA"
join_pid=$LAB_BG_PID
t_join=$(date +%s)
wait_for 5 "gw mdb lists $HOST_SNMA on $GW_RTR_PORT" mld_mdb_has "$HOST_SNMA" "$GW_RTR_PORT"
check "... and not on $GW_OTH_PORT" not mld_mdb_has "$HOST_SNMA" "$GW_OTH_PORT"
mdb_dump

cap_start b-rtr rtr "$RTR_WAN" "${NS_FILTER[@]}"
cap_start b-oth oth "$OTH_IF" "${NS_FILTER[@]}"
for i in 1 2 3; do
	gw_forget
	check "fresh resolution #$i: gw reaches the host" gw_ping 2
done
# Natural expiry cycles: 8 s of pings, entry goes REACHABLE -> STALE -> DELAY ->
# PROBE (multicast NS) and must be confirmed every time.  One ping process per
# packet: a long-running iputils ping sends with MSG_CONFIRM once it gets replies,
# which keeps the entry REACHABLE and would hide the expiry.
ping_series() {
	local i lost=0
	for i in $(seq 1 16); do
		gw_ping >/dev/null || { lost=$((lost + 1)); echo "ping $i lost ($(mld_gw_neigh_state "$HOST_ADDR"))"; }
		sleep 0.5
	done
	[ "$lost" -eq 0 ]
}
before=$(cap_count b-rtr "$MNS_RE")
check "16 pings over ~8 s through several expiry cycles, no loss" ping_series
cap_stop b-rtr
cap_stop b-oth
reval=$(($(cap_count b-rtr "$MNS_RE") - before))
check "gw re-validated by multicast NS that reached rtr ($reval times in 8 s)" test "$reval" -ge 2
check "the other WAN port still got none of them" not cap_seen b-oth "$NS_RE"
# Membership must survive the querier's cycles (membership interval 11 s).
left=$((12 - ($(date +%s) - t_join)))
[ "$left" -le 0 ] || sleep "$left"
check "after >12 s (queries answered) $HOST_SNMA is still on $GW_RTR_PORT" \
	mld_mdb_has "$HOST_SNMA" "$GW_RTR_PORT"
gw_forget
check "... and gw still reaches the host" gw_ping 2

# ------------------------------------------------------------------ c. leave
echo "# c. rtr leaves the group"
bg_stop "$join_pid"
wait_for 5 "$HOST_SNMA removed from $GW_RTR_PORT after the leave" \
	not mld_mdb_has "$HOST_SNMA" "$GW_RTR_PORT"
gw_forget
check "gw cannot reach the host again" not gw_ping

# ------------------------------------------------------------------ d. control
echo "# d. control: snooping off"
nsx gw ip link set "$GW_BR" type bridge mcast_snooping 0
gw_forget
check "with mcast_snooping 0 (flooding) gw reaches the host without any join" gw_ping 2
nsx gw ip link set "$GW_BR" type bridge mcast_snooping 1

echo "# lab test took $(($(date +%s) - t0)) s (MLD_VERSION=$MLD_VERSION)"
finish
