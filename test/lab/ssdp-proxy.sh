# shellcheck shell=bash
# test/lab/ssdp-proxy.sh - sourced after test/lab/lib.sh (or test/e2e/lib.sh): the LANs
# of up to three sites whose routers are joined by routed point-to-point links standing in
# for WireGuard (no multicast crosses them, only routed unicast), minidlna on A's LAN, and
# the helpers the ssdp-proxy test, demo, bench and `make lab TOPO=ssdp-proxy` share:
#
#   alan 192.168.1.10 (minidlna) - lan0 192.168.1.1  arouter  vpnab 10.0.0.1 -- 10.0.0.2 vpnab  brouter  lan0 192.168.2.1 - blan 192.168.2.10
#                                                     arouter  vpnac 10.0.1.1 -- 10.0.1.2 vpnac  crouter  lan0 192.168.3.1 - clan 192.168.3.10
#                                                     brouter  vpnbc 10.0.2.1 -- 10.0.2.2 vpnbc  crouter
#   (each VPN link also has IPv6: vpnab fd00:ab::1 -- fd00:ab::2, and so on)
#
# ssdp_topology_up [SITE...]   namespaces SITElan and SITErouter for each site (default
#                              a b c), a VPN link and routes between every two routers;
#                              no LAN links yet (lan_up)
# lan_up SITE NET              SITElan eth0 192.168.NET.10 -- lan0 192.168.NET.1 SITErouter
# ssdp_two_sites_up            sites A and B with their LANs, the helpers, minidlna at A and
#                              each proxy's config naming the other (conf a, conf b)
# ssdp_helpers_write           $PY, a python3 SSDP helper (search, search6, device6,
#                              listen, notify, unicast, inject, searches, search-from,
#                              replay), and $KEY, a shared key file
# conf SITE LANS PEERS [EXTRA] $LAB_TMP/SITE.json for ssdp-proxy (JSON arrays; EXTRA: more
#                              members); log, pid file, socket $LAB_TMP/SITE.{log,pid,sock}
# minidlna_up                  minidlna on A's LAN (friendly name e2e-minidlna, port 8200)
# ssdp_proxy_start SITE EXE [FLAGS...]  ssdp-proxy on SITErouter (with --config
#                              $LAB_TMP/SITE.json unless FLAGS); pid in LAB_BG_PID
# ssdp_logs_have REGEX         both A's and B's proxy logs have a line matching REGEX
# For the tests, with $SP the ssdp-proxy executable they run:
# ssdp_status_json SITE NS     SITE's proxy status as JSON (asked in namespace NS)
# ssdp_jget SITE NS PYEXPR     a python expression over that status as `s` (exit 1 to fail)
# ssdp_log_has SITE REGEX      SITE's proxy log has a line matching REGEX
# ssdp_hup WHAT SITE...        SIGHUP those proxies; a check (WHAT) that each logged one
#                              more reload within 5 s
#
# mDNS (issue 14): real responders and browsers from Debian, one avahi-daemon per
# namespace, each with a private D-Bus system bus and a private /run:
# avahi_up NS HOST [IFACE] [reflector]  avahi-daemon in NS named HOST, on IFACE (eth0; a
#                              comma-separated list for a reflector); its bus at
#                              $LAB_TMP/avahi-NS/bus.sock, its log avahi-NS/avahi.out
# avahi_down NS                stops NS's avahi-daemon and its bus (to start another)
# avahi_in NS CMD...           CMD in NS with DBUS_SYSTEM_BUS_ADDRESS at that bus
#                              (avahi-publish, avahi-browse, avahi-resolve)
# avahi_publish NS NAME TYPE PORT [HOST]  avahi-publish -s in the background (on HOST,
#                              default the daemon's own); waits until it is established
# avahi_address NS HOST ADDR   avahi-publish -a -R: an address record for HOST
# mdns_helpers_write           $MDNS_PY, a helper for $MDNS_PYTHON: browse (python3-zeroconf),
#                              query NAME [qu] (one query from port 5353), garbage N
# relay_frames CAPLABEL TEXT   per direction ("10.0.0.1>10.0.0.2 N"), the relay datagrams
#                              of a capture made with -A whose payload holds TEXT
# lan6_up SITE NET             global IPv6 on SITE's LAN (fd0NET::10/64, router fd0NET::1)
#                              and routes to it from the other routers over the VPN links
# Needs ip, python3, minidlnad, curl; for mDNS avahi-daemon, avahi-utils, dbus-daemon,
# python3-zeroconf.

PY="$LAB_TMP/ssdp.py"
KEY="$LAB_TMP/ssdp.key"
MDNS_PY="$LAB_TMP/mdns.py"
# Debian's python3, whose python3-zeroconf the mDNS helper imports (another python3 may come first on PATH).
# shellcheck disable=SC2034 # for the scripts that source this file
MDNS_PYTHON=/usr/bin/python3

# p2p NS1 IF1 ADDR1 NS2 IF2 ADDR2 : a veth pair between two namespaces
p2p() {
	ip link add "$2" netns "$(ns_name "$1")" type veth peer name "$5" netns "$(ns_name "$4")"
	nsx "$1" ip addr add "$3" dev "$2"
	nsx "$4" ip addr add "$6" dev "$5"
	nsx "$1" ip link set "$2" up
	nsx "$4" ip link set "$5" up
}

ssdp_topology_up() {
	local -A lan=([a]=1 [b]=2 [c]=3) vpn=([ab]=10.0.0 [ac]=10.0.1 [bc]=10.0.2)
	local s t n
	[ $# -gt 0 ] || set -- a b c
	for s in "$@"; do
		for n in "${s}lan" "${s}router"; do
			ns_add "$n"
			ns_sysctl "$n" net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
		done
		ns_sysctl "${s}router" net.ipv4.ip_forward=1
	done
	for s in "$@"; do
		for t in "$@"; do
			[[ $s < $t ]] || continue
			n=${vpn[$s$t]}
			p2p "${s}router" "vpn$s$t" "$n.1/30" "${t}router" "vpn$s$t" "$n.2/30"
			# and IPv6 on the same link (fd00:ab::1 -- fd00:ab::2), for a relay over IPv6
			nsx "${s}router" ip -6 addr add "fd00:$s$t::1/64" dev "vpn$s$t" nodad
			nsx "${t}router" ip -6 addr add "fd00:$s$t::2/64" dev "vpn$s$t" nodad
			nsx "${s}router" ip route add "192.168.${lan[$t]}.0/24" via "$n.2"
			nsx "${t}router" ip route add "192.168.${lan[$s]}.0/24" via "$n.1"
		done
	done
}

lan_up() { # SITE(a|b|c) NET(1|2|3)
	p2p "${1}lan" eth0 "192.168.$2.10/24" "${1}router" lan0 "192.168.$2.1/24"
	nsx "${1}lan" ip route add default via "192.168.$2.1"
}

lan6_up() { # SITE(a|b|c) NET(1|2|3)
	local s=$1 t pair side
	nsx "${s}lan" ip -6 addr add "fd0$2::10/64" dev eth0 nodad
	nsx "${s}router" ip -6 addr add "fd0$2::1/64" dev lan0 nodad
	nsx "${s}lan" ip -6 route add default via "fd0$2::1"
	ns_sysctl "${s}router" net.ipv6.conf.all.forwarding=1
	for t in a b c; do
		if [ "$t" = "$s" ] || [ ! -e "/run/netns/$(ns_name "${t}router")" ]; then continue; fi
		# the VPN link between s and t: fd00:st::1 on the first of the two, ::2 on the other
		if [[ $s < $t ]]; then pair=$s$t side=1; else pair=$t$s side=2; fi
		ns_sysctl "${t}router" net.ipv6.conf.all.forwarding=1
		nsx "${t}router" ip -6 route add "fd0$2::/64" via "fd00:$pair::$side"
	done
}

ssdp_helpers_write() {
	cat >"$PY" <<'EOF'
import hashlib, hmac, json, os, socket, struct, sys, threading, time
GROUP = ("239.255.255.250", 1900)

def search(st, mx=2, wait=4.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 0))
    msg = f'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\nMX: {mx}\r\nST: {st}\r\n\r\n'
    s.sendto(msg.encode(), GROUP)
    end = time.time() + wait
    out = []
    while True:
        left = end - time.time()
        if left <= 0: break
        s.settimeout(left)
        try: data, frm = s.recvfrom(9000)
        except socket.timeout: break
        h = {}
        for line in data.decode("latin1").split("\r\n")[1:]:
            if ":" in line:
                k, v = line.split(":", 1); h[k.strip().lower()] = v.strip()
        out.append({"from": frm[0], "port": s.getsockname()[1], "st": h.get("st"), "location": h.get("location")})
    return out

def listen(label, ifaddr="0.0.0.0"):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", 1900))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(GROUP[0]) + socket.inet_aton(ifaddr))
    print("listening", label, flush=True)
    while True:
        data, frm = s.recvfrom(9000)
        first = data.decode("latin1").split("\r\n")
        h = {l.split(":", 1)[0].strip().lower(): l.split(":", 1)[1].strip() for l in first[1:] if ":" in l}
        print(frm[0], first[0], h.get("nts", "-"), h.get("nt", "-"), h.get("usn", "-"), flush=True)

def search6(ifname, st, wait):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind(("::", 0))
    msg = f'M-SEARCH * HTTP/1.1\r\nHOST: [FF02::C]:1900\r\nMAN: "ssdp:discover"\r\nMX: 1\r\nST: {st}\r\n\r\n'
    s.sendto(msg.encode(), ("ff02::c", 1900, 0, socket.if_nametoindex(ifname)))
    s.settimeout(wait)
    out = []
    try:
        while True:
            data, frm = s.recvfrom(9000)
            out.append(data.decode("latin1").split("\r\n")[0] + " " + [l for l in data.decode("latin1").split("\r\n") if l.upper().startswith("LOCATION")][0])
    except socket.timeout:
        pass
    print("\n".join(out))

def device6(ifname):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", 1900))
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, socket.inet_pton(socket.AF_INET6, "ff02::c") + struct.pack("@I", socket.if_nametoindex(ifname)))
    print("listening", flush=True)
    while True:
        data, frm = s.recvfrom(9000)
        if data.startswith(b"M-SEARCH"):
            print("search from", frm[0], flush=True)
            s.sendto(b"HTTP/1.1 200 OK\r\nST: urn:x-e2e:v6\r\nLOCATION: http://[fd01::10]:9/v6.xml\r\nUSN: uuid:v6::urn:x-e2e:v6\r\n\r\n", frm)

def notify(n, tag):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(n):
        msg = (f"NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=60\r\n"
               f"LOCATION: http://192.168.1.10:9/{tag}.xml\r\nNT: urn:x-e2e:{tag}\r\nNTS: ssdp:alive\r\n"
               f"USN: uuid:{tag}-{i}::urn:x-e2e:{tag}\r\n\r\n")
        s.sendto(msg.encode(), GROUP)
        time.sleep(0.02)

def frame(key, sender="10.0.0.1", recipient="10.0.0.2"):  # a v2 NOTIFY frame (src/ssdp-proxy/frame.ts)
    payload = b"NOTIFY * HTTP/1.1\r\nNT: urn:x-e2e:forged\r\nNTS: ssdp:alive\r\n\r\n"
    head = b"SR" + bytes([2, 3, 0, 0]) + struct.pack(">HQ", len(payload), int(time.time() * 1000))
    head += os.urandom(8) + bytes(8) + b"".join(socket.inet_aton(a) for a in (sender, recipient, sender))
    body = head + payload
    return body + hmac.new(key, body, hashlib.sha256).digest()

cmd = sys.argv[1]
if cmd == "search":
    print(json.dumps(search(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))))
elif cmd == "search6":
    search6(sys.argv[2], sys.argv[3], float(sys.argv[4]))
elif cmd == "device6":
    device6(sys.argv[2])
elif cmd == "listen":
    listen(*sys.argv[2:4])
elif cmd == "notify":
    notify(int(sys.argv[2]), sys.argv[3])
elif cmd == "unicast":  # unicast DEST : one NOTIFY to DEST:1900, as to a device
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"NOTIFY * HTTP/1.1\r\nNT: urn:x-e2e:unicast\r\nNTS: ssdp:alive\r\n\r\n", (sys.argv[2], 1900))
elif cmd == "inject":  # inject KEY DEST
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(frame(sys.argv[2].encode()), (sys.argv[3], 1901))
elif cmd == "searches":  # searches N TAG MX [PAUSE]: N searches of distinct STs, answers not awaited
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(int(sys.argv[2])):
        msg = f'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\nMX: {sys.argv[4]}\r\nST: urn:x-e2e:{sys.argv[3]}:{i}\r\n\r\n'
        s.sendto(msg.encode(), GROUP)
        if len(sys.argv) > 5: time.sleep(float(sys.argv[5]))
elif cmd == "search-from":  # search-from ADDR ST WAIT: one search from that source address; "answered" or not
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((sys.argv[2], 0))
    s.sendto(f'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\nMX: 1\r\nST: {sys.argv[3]}\r\n\r\n'.encode(), GROUP)
    s.settimeout(float(sys.argv[4]))
    try:
        s.recvfrom(9000); print("answered")
    except socket.timeout:
        print("unanswered")
elif cmd == "replay":  # replay PCAP FROM DEST: each UDP payload of an IPv4 capture (tcpdump -w), again, from FROM to DEST:1901
    data = open(sys.argv[2], "rb").read()
    linktype = struct.unpack("<I", data[20:24])[0]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((sys.argv[3], 0))
    off, n = 24, 0
    while off + 16 <= len(data):
        incl = struct.unpack("<I", data[off + 8:off + 12])[0]
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        ip = pkt[14:] if linktype == 1 else pkt  # Ethernet, or raw IP
        s.sendto(ip[(ip[0] & 15) * 4 + 8:], (sys.argv[4], 1901))
        n += 1
    print(n)
EOF
	python3 -c 'import secrets; print(secrets.token_hex(32))' >"$KEY"
}

# conf SITE LANS(json) PEERS(json) [EXTRA json members]
conf() {
	cat >"$LAB_TMP/$1.json" <<EOF
{ "lans": $2, "peers": $3, "keyFile": "$KEY", "logLevel": "debug",
  "log": "$LAB_TMP/$1.log", "pidFile": "$LAB_TMP/$1.pid", "controlSocket": "$LAB_TMP/$1.sock"${4:+, $4} }
EOF
}

# minidlna_up : minidlna on A's LAN, with its own config and state under $LAB_TMP.
minidlna_up() {
	mkdir -p "$LAB_TMP/media" "$LAB_TMP/mdb" "$LAB_TMP/mlog"
	printf 'hello' >"$LAB_TMP/media/song.mp3"
	cat >"$LAB_TMP/minidlna.conf" <<EOF
media_dir=A,$LAB_TMP/media
db_dir=$LAB_TMP/mdb
log_dir=$LAB_TMP/mlog
port=8200
network_interface=eth0
friendly_name=e2e-minidlna
inotify=no
notify_interval=30
EOF
	bg_in alan "$LAB_TMP/minidlna.out" minidlnad -f "$LAB_TMP/minidlna.conf" -P "$LAB_TMP/minidlna.pid" -d
	require_wait 10 "minidlna answers HTTP on A's LAN" nsx alan curl -fsS -o /dev/null http://192.168.1.10:8200/rootDesc.xml
}

# ssdp_logs_have REGEX : both A's and B's proxy logged a line that matches.
ssdp_logs_have() { grep -qE -- "$1" "$LAB_TMP/a.log" && grep -qE -- "$1" "$LAB_TMP/b.log"; }

ssdp_status_json() { nsx "$2" "$SP" status --json --control-socket "$LAB_TMP/$1.sock"; }
ssdp_jget() { ssdp_status_json "$1" "$2" | python3 -c "import json,sys; s=json.load(sys.stdin); print($3)"; }
ssdp_log_has() { grep -qE -- "$2" "$LAB_TMP/$1.log"; }
ssdp_reloads() { grep -c 'configuration reloaded' "$LAB_TMP/$1.log" || true; }
ssdp_hup() {
	local what=$1 s cond=true
	shift
	for s in "$@"; do
		cond="$cond && [ \$(grep -c 'configuration reloaded' $LAB_TMP/$s.log) -gt $(ssdp_reloads "$s") ]"
		kill -HUP "$(cat "$LAB_TMP/$s.pid")"
	done
	wait_for 5 "$what" sh -c "$cond"
}

ssdp_proxy_start() { # SITE EXE [FLAGS...]
	local site=$1 exe=$2
	shift 2
	[ $# -gt 0 ] || set -- --config "$LAB_TMP/$site.json"
	bg_in "${site}router" "$LAB_TMP/$site.out" "$exe" "$@"
}

ssdp_two_sites_up() {
	ssdp_topology_up a b
	lan_up a 1
	lan_up b 2
	ssdp_helpers_write
	minidlna_up
	conf a '["lan0"]' '["10.0.0.2"]'
	conf b '["lan0"]' '["10.0.0.1"]'
}

# ---------------------------------------------------------------- mDNS peers

# avahi_up NS HOST [IFACE[,IFACE...]] [reflector] : a private system bus and avahi-daemon in
# NS; with "reflector", it reflects mDNS between its interfaces (UniFi's mDNS on the LAN
# bridges, issue 20). avahi-daemon
# keeps its PID file and socket in /run/avahi-daemon, so each runs in a mount namespace
# of its own with a tmpfs on /run (nothing of the machine's /run is touched).
declare -A AVAHI_PIDS=()
avahi_up() {
	local ns=$1 host=$2 ifc=${3:-eth0} reflect=no d="$LAB_TMP/avahi-$1"
	[ "${4:-}" != reflector ] || reflect=yes
	mkdir -p "$d"
	cat >"$d/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$d/bus.sock</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/> <allow own="*"/> <allow send_destination="*"/> <allow receive_sender="*"/>
  </policy>
</busconfig>
EOF
	cat >"$d/avahi.conf" <<EOF
[server]
host-name=$host
domain-name=local
use-ipv4=yes
use-ipv6=yes
allow-interfaces=$ifc
enable-dbus=yes
ratelimit-interval-usec=1000000
ratelimit-burst=1000
[wide-area]
enable-wide-area=no
[reflector]
enable-reflector=$reflect
[publish]
publish-hinfo=no
publish-workstation=no
EOF
	rm -f "$d/bus.sock"
	bg_in "$ns" "$d/dbus.out" dbus-daemon --config-file="$d/bus.conf" --nofork --nopidfile
	AVAHI_PIDS[$ns]=$LAB_BG_PID
	require_wait 5 "a private D-Bus system bus in $ns" test -S "$d/bus.sock"
	bg_in "$ns" "$d/avahi.out" env DBUS_SYSTEM_BUS_ADDRESS="unix:path=$d/bus.sock" unshare -m sh -c \
		"mount -t tmpfs lab-run /run && exec avahi-daemon -f $d/avahi.conf --no-drop-root --no-chroot --no-rlimits --no-proc-title --debug"
	AVAHI_PIDS[$ns]="${AVAHI_PIDS[$ns]} $LAB_BG_PID"
	require_wait 10 "avahi-daemon $host.local is up in $ns" grep -q 'Server startup complete' "$d/avahi.out"
}

avahi_down() { # NS
	local p
	for p in ${AVAHI_PIDS[$1]:-}; do bg_stop "$p"; done
	AVAHI_PIDS[$1]=
}

relay_frames() { # CAPLABEL TEXT
	awk -v m="$2" '/^[0-9:.]+ IP6? / { dir = $3 ">" $5 } index($0, m) { n[dir]++ } END { for (d in n) print d, n[d] }' "$LAB_TMP/cap-$1.txt" |
		sed -E 's/\.1901:?//g' | sort
}

avahi_in() { # NS CMD...
	local ns=$1
	shift
	nsx "$ns" env DBUS_SYSTEM_BUS_ADDRESS="unix:path=$LAB_TMP/avahi-$ns/bus.sock" "$@"
}

avahi_publish() { # NS NAME TYPE PORT [HOST]
	local log
	log="$LAB_TMP/avahi-$1/publish-$(printf '%s' "$3$2" | tr -c 'A-Za-z0-9' _).out"
	bg_in "$1" "$log" env DBUS_SYSTEM_BUS_ADDRESS="unix:path=$LAB_TMP/avahi-$1/bus.sock" avahi-publish -s ${5:+-H "$5"} "$2" "$3" "$4" "lab=$1"
	require_wait 10 "avahi at $1 publishes \"$2\" ($3)" grep -q 'Established under name' "$log"
}

avahi_address() { # NS HOSTNAME ADDRESS : an address record of a host (no reverse PTR)
	local log
	log="$LAB_TMP/avahi-$1/address-$(printf '%s' "$2$3" | tr -c 'A-Za-z0-9' _).out"
	bg_in "$1" "$log" env DBUS_SYSTEM_BUS_ADDRESS="unix:path=$LAB_TMP/avahi-$1/bus.sock" avahi-publish -a -R "$2" "$3"
	require_wait 10 "avahi at $1 publishes $2 at $3" grep -q 'Established under name' "$log"
}

mdns_helpers_write() {
	cat >"$MDNS_PY" <<'EOF'
import socket, struct, sys, time

def browse(stype, wait):
    # python3-zeroconf's own browser and resolver, as an app at the site would use them
    from zeroconf import ServiceBrowser, Zeroconf, IPVersion
    zc = Zeroconf(ip_version=IPVersion.All)
    found = {}
    class L:
        def add_service(self, zc, t, name): found[name] = None
        def update_service(self, zc, t, name): pass
        def remove_service(self, zc, t, name): pass
    ServiceBrowser(zc, stype, L())
    time.sleep(wait)
    for name in sorted(found):
        info = zc.get_service_info(stype, name, timeout=int(wait * 1000))
        addrs = info.parsed_addresses() if info else []
        print(name, info.port if info else "-", " ".join(sorted(addrs)))
    zc.close()

def listen(group, ifname, seconds):
    # every mDNS packet to the group for SECONDS, one line each: source, port, length, header
    fam = socket.AF_INET6 if ":" in group else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET:
        s.bind((group, 5353))
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(group) + socket.inet_aton("0.0.0.0"))
    else:
        idx = socket.if_nametoindex(ifname)
        s.bind((group, 5353, 0, idx))
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, socket.inet_pton(fam, group) + struct.pack("@I", idx))
    print("listening", flush=True)
    end = time.time() + seconds
    while time.time() < end:
        s.settimeout(max(0.01, end - time.time()))
        try:
            data, frm = s.recvfrom(9000)
        except socket.timeout:
            break
        print(frm[0], frm[1], len(data), data[:12].hex(), flush=True)

def query(name, qu):
    # one mDNS query (PTR) from port 5353, beside the host's responder
    q = struct.pack(">HHHHHH", 0, 0, 1, 0, 0, 0)
    q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
    q += struct.pack(">HH", 12, 0x8001 if qu else 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", 5353))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
    s.sendto(q, ("224.0.0.251", 5353))

def garbage(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", 5353))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
    bad = [b"\0" * 5, bytes(12) + b"\xff" * 20, struct.pack(">HHHHHH", 0, 0, 1, 0, 0, 0) + b"\xc0\x0c\0\x0c\0\x01",
           struct.pack(">HHHHHH", 0, 0x8400, 0, 200, 0, 0) + b"\0" * 11]
    for i in range(n):
        s.sendto(bad[i % len(bad)], ("224.0.0.251", 5353))
        time.sleep(0.01)

cmd = sys.argv[1]
if cmd == "browse":      # browse TYPE SECONDS
    browse(sys.argv[2], float(sys.argv[3]))
elif cmd == "query":     # query NAME [qu]
    query(sys.argv[2], len(sys.argv) > 3)
elif cmd == "garbage":   # garbage N: malformed packets of every kind to the group
    garbage(int(sys.argv[2]))
elif cmd == "listen":    # listen GROUP IFNAME SECONDS
    listen(sys.argv[2], sys.argv[3], float(sys.argv[4]))
EOF
}

# For `make lab TOPO=ssdp-proxy` (test/lab/up.sh): two sites as in the demo, with
# ssdp-proxy running on both routers.
lab_ssdp_proxy() {
	local sp
	lab_exe sp ssdp-proxy
	ssdp_two_sites_up
	ssdp_proxy_start a "$sp"
	ssdp_proxy_start b "$sp"
	require_wait 5 "both proxies joined the SSDP groups on their LAN" ssdp_logs_have "joined ff02::c on lan0"
	cat <<EOF
  alan     192.168.1.10, minidlna (http://192.168.1.10:8200/rootDesc.xml)
  arouter  lan0 192.168.1.1, vpnab 10.0.0.1; ssdp-proxy ($LAB_TMP/a.json, a.log)
  brouter  lan0 192.168.2.1, vpnab 10.0.0.2; ssdp-proxy ($LAB_TMP/b.json, b.log)
  blan     192.168.2.10
  try:  ip netns exec $(ns_name blan) python3 $PY search urn:schemas-upnp-org:device:MediaServer:1 1 2
        ip netns exec $(ns_name brouter) $sp status --control-socket $LAB_TMP/b.sock
EOF
}
