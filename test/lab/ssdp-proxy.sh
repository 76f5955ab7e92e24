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
#                              listen, notify, unicast, inject), and $KEY, a shared key file
# conf SITE LANS PEERS [EXTRA] $LAB_TMP/SITE.json for ssdp-proxy (JSON arrays; EXTRA: more
#                              members); log, pid file, socket $LAB_TMP/SITE.{log,pid,sock}
# minidlna_up                  minidlna on A's LAN (friendly name e2e-minidlna, port 8200)
# ssdp_proxy_start SITE EXE [FLAGS...]  ssdp-proxy on SITErouter (with --config
#                              $LAB_TMP/SITE.json unless FLAGS); pid in LAB_BG_PID
# ssdp_logs_have REGEX         both A's and B's proxy logs have a line matching REGEX
# Needs ip, python3, minidlnad, curl.

PY="$LAB_TMP/ssdp.py"
KEY="$LAB_TMP/ssdp.key"

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
