#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/../test/lab source-path=SCRIPTDIR
# A narrated demo of mld-proxy in a simulated network: a UDM behind an ISP gateway
# that does MLD snooping. Shows the gateway losing a LAN host, then mld-proxy
# bringing it back. Everything runs in network namespaces this script creates and
# removes; no packet leaves them.
#
# Usage: scripts/dev/demo-mld-proxy.sh    (`make demo` builds first and runs it; as root; about 15 s)
# Exits non-zero if a step that should work does not.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/test/lab/lib.sh"
need_root
need_cmd ip bridge ndppd radvd python3 ping setsid awk
MLD_WITH_OTHER=0
. "$root/test/lab/mld-proxy.sh"
. "$root/scripts/dev/demo-lib.sh"
lab_exe MP mld-proxy

gw_ping() { nsx gw ping -6 -n -c1 -W2 "$HOST_ADDR" >/dev/null; }
gw_forget() { nsx gw ip -6 neigh del "$HOST_ADDR" dev "$GW_BR" 2>/dev/null || true; }
mdb() { run gw bridge mdb show dev "$GW_BR"; }
mp() { nsx rtr "$MP" "$@"; }
SOCK="$LAB_TMP/mld-proxy.sock"
MP_LOG="$LAB_TMP/mld-proxy.log"

t0=$(date +%s)
section "1. The network"
say "Three network namespaces stand in for three boxes:" \
	"  gw    the ISP gateway: switch sw0 with MLD snooping, advertising $PREFIX" \
	"  rtr   the UDM in \"SLAAC + Single Network\" mode: WAN $RTR_WAN, LAN bridge $RTR_LAN," \
	"        ndppd answering the gateway's Neighbor Solicitations for LAN hosts" \
	"  host  a LAN host with the SLAAC address $HOST_ADDR" \
	"Building it (a few seconds)..."
mld_topology_up
say "" "The gateway finds a host by sending a Neighbor Solicitation (NS) to the host's" \
	"solicited-node group, here $HOST_SNMA (from the address's last 24 bits)."

section "2. Without mld-proxy the gateway loses the host"
say "The ISP gateway does MLD snooping: it sends its NS for the host only where the" \
	"host's group was reported. The host reports its groups on the LAN, never on the WAN," \
	"so no port of the gateway's switch has $HOST_SNMA - only the router's own group:"
mdb || true
require "no entry for $HOST_SNMA on the router's port $GW_RTR_PORT" not mld_mdb_has "$HOST_SNMA" "$GW_RTR_PORT"
say "" "Once the gateway's neighbour entry for the host is gone (it expires; we delete it)," \
	"it has to ask again, and its NS goes nowhere:"
gw_forget
run gw ping -6 -n -c1 -W2 "$HOST_ADDR" || true
require "the gateway cannot reach the host" not gw_ping

section "3. mld-proxy joins the host's group on the WAN"
say "mld-proxy watches NS/NA on the LAN bridge and joins each host's solicited-node group" \
	"on the WAN. The kernel then reports the membership to the gateway's switch."
shown rtr "mld-proxy --check-interval 5 --log $MP_LOG --control-socket $SOCK $RTR_WAN $RTR_LAN &"
mld_proxy_start "$MP" --check-interval 5
say "" "Any NDP on the LAN teaches it the host - a host configuring an address (DAD), the" \
	"host resolving a neighbour, or the router resolving the host, as here:"
shown rtr "ping -6 -c1 $HOST_ADDR >/dev/null"
nsx rtr ping -6 -n -c1 -W1 "$HOST_ADDR" >/dev/null || true
require_wait 10 "mld-proxy joined $HOST_SNMA" grep -qF "Joined: $HOST_SNMA" "$MP_LOG"
shown rtr cat "$MP_LOG"
sed 's/^/    /' "$MP_LOG"
require_wait 5 "the gateway's switch learned $HOST_SNMA on $GW_RTR_PORT" mld_mdb_has "$HOST_SNMA" "$GW_RTR_PORT"
mdb || true

section "4. The gateway reaches the host again"
say "Now the gateway's NS reaches the router, ndppd answers for the host, and traffic flows:"
gw_forget
run gw ping -6 -n -c1 -W2 "$HOST_ADDR" || true
require "the gateway reaches the host" gw_ping
say "" "And it stays reachable while the gateway's neighbour entry expires and is re-checked" \
	"(every 2-3 s in this lab) - 10 pings over 5 s:"
lost=0
for _ in 1 2 3 4 5 6 7 8 9 10; do
	gw_ping || lost=$((lost + 1))
	sleep 0.5
done
require "10 of 10 pings answered ($lost lost)" test "$lost" -eq 0

section "5. What mld-proxy knows"
shown rtr mld-proxy status --control-socket "$SOCK"
mp status --control-socket "$SOCK" | sed 's/^/    /'

section "6. When mld-proxy stops, it leaves the groups"
say "On SIGTERM it saves its table (with --state) and leaves every group: the kernel" \
	"sends MLD Done and the switch forgets the port."
shown rtr kill "$MP_PID"
bg_stop "$MP_PID"
require_wait 5 "$HOST_SNMA is gone from the gateway's switch" not mld_mdb_has "$HOST_SNMA" "$GW_RTR_PORT"
say "" "Done in $(($(date +%s) - t0)) s: without mld-proxy the snooping gateway cannot find the" \
	"host; with it, it can. The namespaces are removed now."
