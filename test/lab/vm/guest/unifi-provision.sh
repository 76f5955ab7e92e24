#!/bin/bash
# test/lab/vm/guest/unifi-provision.sh GATEWAY - what UniFi's controller does at each
# provisioning, for one gateway namespace of the UniFi-shaped lab (unifi.sh): the
# whole filter table rebuilt from UniFi's template (iptables-restore without
# --noflush, so foreign rules are gone), then the gateway's state file touched.
# Run by the guest's unit unifi-provision@GATEWAY.service, on demand
# (systemctl start) and by its timer at random intervals; the template and the
# functions are test/lab/unifi-firewall.sh's, the lab's names in /run/udmvm-unifi/env.
set -euo pipefail
gw=${1:?usage: unifi-provision.sh GATEWAY}
# shellcheck source=/dev/null # written by unifi.sh: LAB_PREFIX, LAB_TMP, REPO
. /run/udmvm-unifi/env
nsx() {
	local n=$1
	shift
	ip netns exec "$LAB_PREFIX$n" "$@"
}
# shellcheck source=test/lab/unifi-firewall.sh
. "$REPO/test/lab/unifi-firewall.sh"
unifi_provision "$gw"
n=$(($(cat "$LAB_TMP/$gw.provisions" 2>/dev/null || echo 0) + 1))
echo "$n" >"$LAB_TMP/$gw.provisions"
echo "UniFi re-provisioned $gw (rebuild $n)"
