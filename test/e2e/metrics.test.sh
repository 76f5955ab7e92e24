#!/usr/bin/env bash
# shellcheck disable=SC2317 # helpers are invoked through check/wait_for
# test/e2e/metrics.test.sh - Prometheus metrics (issue 22): a real Prometheus (Debian's
# package) in a namespace of its own scrapes all four proxies, which run together on
# site B's router like on one gateway, while each does its job; Prometheus' HTTP API must
# then show each `up` and a counter grown by exactly what the test sent: the relay's
# replies, udp-proxy's datagrams, the tunnel's bytes, mld-proxy's learned addresses.
# promtool checks every daemon's exposition; the endpoint is bounded and allow-listed.
#
#   alan (minidlna) - arouter (ssdp-proxy, udp-tunnel) == vpnab == brouter - blan
#                                                  (all four proxies)  |
#                                                                 mon0 10.9.0.1
#                                                                       |
#                                         mon 10.9.0.2: prometheus, UDP echo service
#
# Run: sudo test/e2e/metrics.test.sh   (needs dist/*-linux-x64: make build)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=test/e2e/lib.sh
. "$here/lib.sh"
# shellcheck source=test/lab/ssdp-proxy.sh
. "$here/../lab/ssdp-proxy.sh"

need_root
need_cmd ip python3 curl minidlnad prometheus promtool node ping
lab_exe MLD mld-proxy
lab_exe SP ssdp-proxy
lab_exe UP udp-proxy
lab_exe UT udp-tunnel

GW=10.9.0.1
MON=10.9.0.2
declare -A PORT=([mld-proxy]=9811 [ssdp-proxy]=9812 [udp-proxy]=9813 [udp-tunnel]=9814)
METRICS_FLAGS() { printf '%s\n' --metrics-listen "$GW:${PORT[$1]}" --metrics-allow "$MON/32"; }

# ---- the lab: two SSDP sites, and the monitoring box beside B's router
ssdp_two_sites_up
ns_add mon
p2p brouter mon0 "$GW/24" mon eth0 "$MON/24"
nsx mon ip link set lo up
nsx brouter ip link set lo up
nsx arouter ip link set lo up
# The tunnels' own traffic only: no IPv6 link-local chatter on the tun devices made later.
ns_sysctl brouter net.ipv6.conf.default.disable_ipv6=1
ns_sysctl arouter net.ipv6.conf.default.disable_ipv6=1

# ---- the proxies at B (and their partners at A)
conf a '["lan0"]' '["10.0.0.2"]'
conf b '["lan0"]' '["10.0.0.1"]' "\"metrics\": { \"listen\": \"$GW:${PORT[ssdp-proxy]}\", \"allow\": [\"$MON/32\"] }"
ssdp_proxy_start a "$SP"
ssdp_proxy_start b "$SP"
require_wait 10 "ssdp-proxy answers status at B" nsx brouter "$SP" status --control-socket "$LAB_TMP/b.sock"
require_wait 10 "ssdp-proxy answers status at A" nsx arouter "$SP" status --control-socket "$LAB_TMP/a.sock"

# udp-proxy: B's LAN host sends to B's LAN address, the service is an echo at mon.
cat >"$LAB_TMP/echo.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
while True:
    data, frm = s.recvfrom(65535)
    s.sendto(data, frm)
EOF
bg_in mon "$LAB_TMP/echo.out" python3 "$LAB_TMP/echo.py" "$MON" 7007
# shellcheck disable=SC2046 # one flag a line
daemon_start brouter udp-proxy "udp-proxy runs at B" "$UP" --listen 192.168.2.1:5300 --upstream "$MON:7007" \
	--control-socket "$LAB_TMP/udp-proxy.sock" --pid-file "$LAB_TMP/udp-proxy.pid" --log "$LAB_TMP/udp-proxy.log" $(METRICS_FLAGS udp-proxy)

# udp-tunnel: one tunnel between A and B over the VPN link.
for s in a b; do
	flags=()
	[ "$s" = a ] || mapfile -t flags < <(METRICS_FLAGS udp-tunnel)
	daemon_start "${s}router" "ut-$s" "udp-tunnel runs at ${s^^}" "$UT" serve --control-socket "$LAB_TMP/ut-$s.sock" \
		--pid-file "$LAB_TMP/ut-$s.pid" --log "$LAB_TMP/ut-$s.log" "${flags[@]}"
done
require "tunnel added at B" nsx brouter "$UT" ctl -s 127.0.0.1 -o add -n t0 -t 10.77.0.1 -r 10.0.0.1
require "tunnel added at A" nsx arouter "$UT" ctl -s 127.0.0.1 -o add -n t0 -t 10.77.0.2 -r 10.0.0.2
require_wait 5 "the tunnel carries a ping" nsx brouter ping -n -c1 -W1 10.77.0.2

# mld-proxy: B's LAN addresses in 2001:db8:1::/64, joined on the VPN link.
# shellcheck disable=SC2046 # one flag a line
daemon_start brouter mld-proxy "mld-proxy runs at B" "$MLD" --prefix 2001:db8:1::/64 \
	--control-socket "$LAB_TMP/mld-proxy.sock" --pid-file "$LAB_TMP/mld-proxy.pid" --log "$LAB_TMP/mld-proxy.log" \
	$(METRICS_FLAGS mld-proxy) vpnab lan0

# ---- Prometheus, scraping every second
mkdir -p "$LAB_TMP/prom"
{
	echo 'global: { scrape_interval: 1s, scrape_timeout: 900ms }'
	echo 'scrape_configs:'
	for p in mld-proxy ssdp-proxy udp-proxy udp-tunnel; do
		printf '  - job_name: %s\n    static_configs: [ { targets: ["%s:%s"] } ]\n' "$p" "$GW" "${PORT[$p]}"
	done
} >"$LAB_TMP/prometheus.yml"
check "promtool accepts the scrape config" promtool check config "$LAB_TMP/prometheus.yml"
bg_in mon "$LAB_TMP/prometheus.out" prometheus --config.file="$LAB_TMP/prometheus.yml" --storage.tsdb.path="$LAB_TMP/prom" \
	--web.listen-address=127.0.0.1:9090 --log.level=warn
require_wait 20 "Prometheus is ready" nsx mon curl -fsS -o /dev/null http://127.0.0.1:9090/-/ready

# prom QUERY : the value of the query's first sample, as Prometheus' HTTP API gives it.
prom() {
	nsx mon curl -fsS http://127.0.0.1:9090/api/v1/query --data-urlencode "query=$1" |
		python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}
prom_is() { [ "$(prom "$1")" = "$2" ]; }

for p in mld-proxy ssdp-proxy udp-proxy udp-tunnel; do
	wait_for 15 "Prometheus sees $p up" prom_is "up{job=\"$p\"}" 1
done
for p in mld-proxy ssdp-proxy udp-proxy udp-tunnel; do
	check "promtool check metrics passes on $p's exposition" sh -c "ip netns exec $(ns_name mon) curl -fsS http://$GW:${PORT[$p]}/metrics | promtool check metrics"
done
wait_for 5 "build_info names the version and commit" prom_is 'count(udp_proxy_build_info{version!="",commit!=""})' 1
check "the standard process metrics are there" prom_is 'count(process_resident_memory_bytes > 0 and process_open_fds > 0 and process_start_time_seconds > 0)' 4
check "RssAnon under our name" prom_is 'count(udm_proxies_rss_anon_bytes > 0)' 4

# ---- each proxy at work; Prometheus must see the counter grown by what was sent
# grown QUERY BEFORE DELTA : Prometheus' value is BEFORE + DELTA.
grown() { prom_is "$1" "$(($2 + $3))"; }
val() { local v; v=$(prom "$1"); printf '%s\n' "${v:-0}"; }

# udp-proxy: 25 datagrams from B's LAN, each echoed back.
q_up='udp_proxy_datagrams_total{direction="to_upstream"}'
q_down='udp_proxy_datagrams_total{direction="to_client"}'
b_up=$(val "$q_up") b_down=$(val "$q_down")
nsx blan python3 - <<'EOF'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
for i in range(25):
    s.sendto(b"ping %d" % i, ("192.168.2.1", 5300))
    s.recvfrom(100)
EOF
wait_for 5 "udp-proxy: 25 datagrams to the upstream" grown "$q_up" "$b_up" 25
wait_for 5 "udp-proxy: 25 back to the client" grown "$q_down" "$b_down" 25

# udp-tunnel: 5 pings of 100-byte IP packets through the tunnel, 500 bytes each way.
q_tx='udp_tunnel_bytes_total{tunnel="t0",direction="tx"}'
q_rx='udp_tunnel_bytes_total{tunnel="t0",direction="rx"}'
b_tx=$(val "$q_tx") b_rx=$(val "$q_rx")
nsx brouter ping -n -q -c5 -i0.2 -s72 -W1 10.77.0.2 >/dev/null
wait_for 5 "udp-tunnel: 500 bytes sent into the tunnel" grown "$q_tx" "$b_tx" 500
wait_for 5 "udp-tunnel: 500 bytes received from it" grown "$q_rx" "$b_rx" 500

# mld-proxy: 30 hosts' DAD probes on B's LAN, each address learned once.
q_learn='mld_proxy_addresses_learned_total'
b_learn=$(val "$q_learn")
(cd "$root" && nsx blan node -r esbuild-register test/e2e/ndp-inject.ts eth0 30 2001:db8:1:: >/dev/null)
wait_for 5 "mld-proxy: 30 addresses learned" grown "$q_learn" "$b_learn" 30
wait_for 5 "mld-proxy: the table holds them" prom_is 'mld_proxy_addresses' "$((b_learn + 30))"

# ssdp-proxy: three searches from B's LAN, answered by minidlna at A; each reply
# the client got was routed by B's relay.
q_routed='ssdp_proxy_lan_replies_routed_total{lan="lan0"}'
b_routed=$(val "$q_routed")
b_delay=$(val ssdp_proxy_reply_delay_seconds_count)
searchers=()
for i in 1 2 3; do
	nsx blan python3 "$PY" search urn:schemas-upnp-org:device:MediaServer:1 1 2.5 >"$LAB_TMP/search$i.json" &
	searchers+=($!)
done
wait "${searchers[@]}"
got=$(cat "$LAB_TMP"/search?.json | python3 -c 'import json,sys; print(sum(len(json.loads(l)) for l in sys.stdin if l.strip()))')
check "ssdp-proxy: the clients got replies ($got)" test "$got" -ge 3
wait_for 5 "ssdp-proxy: $got replies routed to the LAN" grown "$q_routed" "$b_routed" "$got"
wait_for 5 "ssdp-proxy: each in the reply-delay histogram" grown 'ssdp_proxy_reply_delay_seconds_count' "$b_delay" "$got"
check "... every one within the search's MX + 1 s" prom_is 'ssdp_proxy_reply_delay_seconds_bucket{le="2"} - ignoring(le) ssdp_proxy_reply_delay_seconds_count' 0

# ---- the endpoint itself: allow list, bounds, errors counted, the same text on the socket
check "from outside the allow list the connection is closed" not nsx blan curl -fsS -m 2 "http://$GW:${PORT[udp-proxy]}/metrics"
check "... and counted" sh -c "ip netns exec $(ns_name mon) curl -fsS http://$GW:${PORT[udp-proxy]}/metrics | grep -qx 'udm_proxies_metrics_connections_refused_total{reason=\"not_allowed\"} 1'"
code() { nsx mon curl -s -o /dev/null -w '%{http_code}' "$@"; }
check "POST is 405" test "$(code -X POST "http://$GW:${PORT[udp-proxy]}/metrics")" = 405
check "another path is 404" test "$(code "http://$GW:${PORT[udp-proxy]}/")" = 404
check "OpenMetrics when asked" sh -c "ip netns exec $(ns_name mon) curl -fsS -H 'Accept: application/openmetrics-text; version=1.0.0' http://$GW:${PORT[udp-proxy]}/metrics | tail -n1 | grep -qx '# EOF'"
# (a scrape within 250 ms of the last gets the same body: wait for a fresh one)
wait_for 2 "errors are counted by status" sh -c "ip netns exec $(ns_name mon) curl -fsS http://$GW:${PORT[udp-proxy]}/metrics | grep -q 'udm_proxies_metrics_requests_total{code=\"405\"} 1'"
check "'udp-proxy metrics' prints the same families over the socket" sh -c \
	"ip netns exec $(ns_name brouter) $UP metrics --control-socket $LAB_TMP/udp-proxy.sock | grep -q '^udp_proxy_datagrams_total{rule=.*direction=\"to_upstream\"} 25$'"
out=$(nsx brouter "$UP" --listen 5301 --upstream 10.0.0.1:9 --metrics-listen 0.0.0.0:9899 --control-socket "$LAB_TMP/x.sock" 2>&1) && rc=0 || rc=$?
check "a wildcard without an allow list is refused, naming the flag" sh -c "[ $rc -ne 0 ] && printf '%s' '$out' | grep -q -- '--metrics-allow: 0.0.0.0 listens on every address'"

# An address not there yet (a LAN bridge at boot): the proxy runs, the endpoint follows.
daemon_start brouter late "udp-proxy starts although its metrics address is not there yet" "$UP" --listen 192.168.2.1:5302 \
	--upstream "$MON:7007" --control-socket "$LAB_TMP/late.sock" --log "$LAB_TMP/late.log" --metrics-listen 10.9.0.5:9815 --metrics-allow "$MON/32"
check "... and says it will try again" grep -q 'cannot serve metrics on 10.9.0.5:9815: .*trying again every 5 s' "$LAB_TMP/late.log"
nsx brouter ip addr add 10.9.0.5/24 dev mon0
wait_for 8 "... then serves them once the address is there" nsx mon curl -fsS -o /dev/null http://10.9.0.5:9815/metrics

# Between scrapes nothing runs: Prometheus' scrapes were all the requests (no errors in its log).
check "Prometheus logged no scrape error" not grep -qi 'error' "$LAB_TMP/prometheus.out"

finish
