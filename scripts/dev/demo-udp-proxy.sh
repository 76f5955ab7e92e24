#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/../test/lab source-path=SCRIPTDIR
# A narrated demo of udp-proxy: a DNS service behind a VIP that answers from its
# real address. dig through the proxy gets nothing until the real address is a
# reply alias. Everything runs in network namespaces this script creates and
# removes; no packet leaves them.
#
# Usage: scripts/dev/demo-udp-proxy.sh    (`make demo` builds first and runs it; as root; about 10 s)
# Exits non-zero if a step that should work does not.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/test/lab/lib.sh"
need_root
need_cmd ip nft dnsmasq dig setsid
. "$root/test/lab/udp-proxy.sh"
. "$root/scripts/dev/demo-lib.sh"

lab_exe UP udp-proxy
SOCK="$LAB_TMP/udp-proxy.sock"
ask() { nsx client dig +tries=1 +time=2 @10.0.1.1 -p 5353 svc.test A; }
answered() { ask | grep -q '^svc\.test\..*192\.0\.2\.53'; }
# start_proxy ARGS... : udp-proxy in the proxy box, listening on 10.0.1.1:5353.
start_proxy() {
	shown proxy udp-proxy --listen 10.0.1.1:5353 --upstream 10.0.2.254:53 "$@" "&"
	udp_proxy_start "$UP" --listen 10.0.1.1:5353 --upstream 10.0.2.254:53 "$@"
}

t0=$(date +%s)
section "1. The network"
say "Three network namespaces stand in for three boxes:" \
	"  client   asks DNS questions with dig, only through the proxy (10.0.1.1:5353)" \
	"  proxy    runs udp-proxy; it does not route, so the client has no other way" \
	"  svc      dnsmasq, reached on the VIP 10.0.2.254, but its replies leave from its" \
	"           real address 10.0.2.2 (an nftables SNAT rule), like a service behind a" \
	"           load balancer or a multi-homed WireGuard host" \
	"Building it..."
udp_topology_up

section "2. Without a reply alias the answer is dropped"
say "udp-proxy sends the question to the VIP and accepts replies from the VIP only. The" \
	"reply comes from 10.0.2.2: a stranger. (Without aliases the proxy's upstream socket is" \
	"connected to the VIP, so the kernel drops the stranger before udp-proxy sees it.)"
start_proxy
run client dig +tries=1 +time=2 @10.0.1.1 -p 5353 svc.test A || true
require "dig gets no answer" not answered
nsx proxy "$UP" status --control-socket "$SOCK" | sed 's/^/    /'
bg_stop "$UP_PID"

section "3. With the real address as a reply alias, it works"
say "--reply-alias 10.0.2.2 tells udp-proxy that replies from the real address belong to" \
	"the session too. They go back to the client from the address it asked."
start_proxy --reply-alias 10.0.2.2
run client dig +tries=1 +time=2 @10.0.1.1 -p 5353 svc.test A || true
require "dig gets the answer (192.0.2.53)" answered

section "4. What udp-proxy counted"
shown proxy udp-proxy status
nsx proxy "$UP" status --control-socket "$SOCK" | sed 's/^/    /'
bg_stop "$UP_PID"
say "" "Done in $(($(date +%s) - t0)) s. The namespaces are removed now."
