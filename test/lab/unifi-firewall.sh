# shellcheck shell=bash
# test/lab/unifi-firewall.sh - sourced after test/lab/lib.sh: a gateway namespace made to
# look like a UniFi gateway's firewall (issue 20; ../shared/notes/unifi-gateway.md says
# where each fact was read), through iptables-legacy only, as UniFi's kernels have no
# nf_tables:
#
#   INPUT (policy ACCEPT) -> UBIOS_INPUT_JUMP -> UBIOS_INPUT_USER_HOOK, which sends each
#   interface to a chain: the WAN to UBIOS_WAN_LOCAL_USER (RETURN established/related,
#   DROP invalid, DROP the rest), LAN bridges to UBIOS_LAN_LOCAL_USER (RETURN), guest
#   bridges to UBIOS_GUEST_LOCAL_USER (DNS, DHCP, ICMP, then DROP). The site-to-site
#   WireGuard link is classed as WAN (as UniFi does with its wgclt* interfaces) in the
#   pre-zone layout; the zone-based one (UniFi Network 9) sends it to
#   UBIOS_VPN_LOCAL_USER, and a custom zone's bridge to UBIOS_CUSTOM1_IN_USER.
#   IPv6 the same, with ICMPv6 let in on the WAN (neighbour discovery needs it).
#   UNIFI_FW_WAN_UDP (space-separated ports, default none): UDP ports UniFi itself lets in
#   on the WAN, as it does for its own VPN listeners (Site Magic's WireGuard, for the VM).
#
# unifi_fw_template LAYOUT FAMILY WAN VPN LAN GUEST   prints the filter table (iptables-save
#                                 format); LAYOUT pre-zone or zones, FAMILY 4 or 6
# unifi_fw_up NS LAYOUT WAN VPN LAN GUEST   the gateway NS gets UniFi's tables; its state file
#                                 is $LAB_TMP/NS.state (UDM_PROXIES_UNIFI_STATE_FILE for the
#                                 daemons there); the template is kept for unifi_provision
# unifi_provision NS              UniFi's controller re-provisions: the whole filter table
#                                 rebuilt from the template (iptables-restore without
#                                 --noflush: foreign rules gone), then the state file touched
# unifi_fw_save NS FAMILY         the filter table as iptables-legacy-save prints it, less
#                                 its comments and counters (to compare two of them)

unifi_fw_template() { # LAYOUT FAMILY WAN VPN LAN GUEST
	local layout=$1 fam=$2 wan=$3 vpn=$4 lan=$5 guest=$6 icmp=icmp p vpnchain=UBIOS_WAN_LOCAL_USER guestchain=UBIOS_GUEST_LOCAL_USER
	[ "$fam" = 4 ] || icmp=ipv6-icmp
	if [ "$layout" = zones ]; then
		vpnchain=UBIOS_VPN_LOCAL_USER
		guestchain=UBIOS_CUSTOM1_IN_USER
	fi
	cat <<EOF
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:UBIOS_INPUT_JUMP - [0:0]
:UBIOS_INPUT_USER_HOOK - [0:0]
:UBIOS_WAN_LOCAL_USER - [0:0]
:UBIOS_LAN_LOCAL_USER - [0:0]
:$guestchain - [0:0]
EOF
	[ "$layout" != zones ] || echo ":UBIOS_VPN_LOCAL_USER - [0:0]"
	cat <<EOF
-A INPUT -j UBIOS_INPUT_JUMP
-A UBIOS_INPUT_JUMP -j UBIOS_INPUT_USER_HOOK
-A UBIOS_INPUT_USER_HOOK -i $wan -j UBIOS_WAN_LOCAL_USER
-A UBIOS_INPUT_USER_HOOK -i $vpn -j $vpnchain
-A UBIOS_INPUT_USER_HOOK -i $lan -j UBIOS_LAN_LOCAL_USER
-A UBIOS_INPUT_USER_HOOK -i $guest -j $guestchain
EOF
	for c in UBIOS_WAN_LOCAL_USER $([ "$layout" != zones ] || echo UBIOS_VPN_LOCAL_USER); do
		echo "-A $c -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN"
		echo "-A $c -m conntrack --ctstate INVALID -j DROP"
		[ "$fam" = 4 ] || echo "-A $c -p ipv6-icmp -j RETURN"
		if [ "$c" = UBIOS_WAN_LOCAL_USER ]; then
			for p in ${UNIFI_FW_WAN_UDP:-}; do echo "-A $c -p udp -m udp --dport $p -j RETURN"; done
		fi
		echo "-A $c -j DROP"
	done
	cat <<EOF
-A UBIOS_LAN_LOCAL_USER -j RETURN
-A $guestchain -p udp -m udp --dport 53 -j RETURN
-A $guestchain -p udp -m udp --dport $([ "$fam" = 4 ] && echo 67 || echo 547) -j RETURN
-A $guestchain -p $icmp -j RETURN
-A $guestchain -j DROP
COMMIT
EOF
}

unifi_fw_up() { # NS LAYOUT WAN VPN LAN GUEST
	local ns=$1 fam
	shift
	for fam in 4 6; do
		unifi_fw_template "$1" "$fam" "$2" "$3" "$4" "$5" >"$LAB_TMP/$ns.fw$fam"
	done
	unifi_provision "$ns"
}

unifi_provision() { # NS
	nsx "$1" iptables-legacy-restore -w 5 <"$LAB_TMP/$1.fw4"
	nsx "$1" ip6tables-legacy-restore -w 5 <"$LAB_TMP/$1.fw6"
	touch "$LAB_TMP/$1.state"
}

unifi_fw_save() { # NS FAMILY
	local save=iptables-legacy-save
	[ "$2" = 4 ] || save=ip6tables-legacy-save
	nsx "$1" "$save" -t filter | grep -v '^#' | sed 's/ \[[0-9]*:[0-9]*\]$/ [0:0]/'
}
