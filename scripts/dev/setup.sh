#!/bin/sh
# Installs what building and testing need on a fresh Debian machine: the
# Debian packages (qemu-user for the arm64 executables, cross libs, binutils to
# strip and read ELF, iproute2 and the real test peers, libfaketime for the
# fault tests; qemu-system-arm, debootstrap and e2fsprogs to build and boot the
# arm64 VM; iptables (its legacy tools) and conntrack for the UniFi firewall lab; prometheus,
# which scrapes the proxies in the metrics test and whose promtool checks their output: 96 MB
# installed), then npm ci.
# Safe to run again: it installs only what is missing.
set -eu

DEBIAN_PACKAGES="
  qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross
  binutils binutils-aarch64-linux-gnu
  iproute2 iputils-ping procps psmisc tcpdump ndisc6 busybox shellcheck curl openssh-server
  ndppd radvd python3 dnsmasq bind9-dnsutils nftables iperf3 minidlna nmap
  avahi-daemon avahi-utils python3-zeroconf dbus-daemon
  faketime iptables conntrack prometheus
  qemu-system-arm debootstrap e2fsprogs util-linux
"
# Only `make bench` needs these: nginx's UDP proxy, socat's TUN tunnel and
# wireguard-go (configured with wg) as baselines, and cc for the UDP load generator.
BENCH_PACKAGES="nginx libnginx-mod-stream gcc libc6-dev socat wireguard-go wireguard-tools jq"
[ "${1:-}" = --bench ] && DEBIAN_PACKAGES="$DEBIAN_PACKAGES $BENCH_PACKAGES"

missing=""
for p in $DEBIAN_PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "ERROR: missing Debian packages:$missing" >&2
    echo "Install them with: sudo apt-get install -y$missing" >&2
    exit 1
  fi
  echo "setup: installing Debian packages:$missing"
  export DEBIAN_FRONTEND=noninteractive
  # The tests start their own dnsmasq, sshd, radvd... inside namespaces; the
  # packages must not start system-wide services on this machine.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -qq
  # shellcheck disable=SC2086 # word splitting of the list is intended
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# npm ci when node_modules is absent or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ -n "$(find package-lock.json -newer node_modules/.package-lock.json)" ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
