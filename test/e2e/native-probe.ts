// Exercises the native layer for real, inside a network namespace made by
// native.test.sh. Prints one "PASS <what>" or "FAIL <what>: <why>" per check.
//   tun:    creates a TUN device, answers the kernel's ICMP echo requests
//           itself (ping runs against an address routed into the device)
//   packet: captures an NS frame on a veth with AF_PACKET + the NDP filter
import { exec } from 'node:child_process';
import { execSync } from 'node:child_process';
import { closeFd, openPacketSocket, openTunDevice, readFd, watchReadable, writeFd, ETH_P_IPV6 } from '../../src/lib/native';
import { ndpFilter } from '../../src/mld-proxy/bpf';
import { decodeNdpFrame } from '../../src/mld-proxy/ndp';
import { formatIPv6 } from '../../src/lib/ip';

function checksum(p: Uint8Array, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i < end; i += 2) sum += (p[i] << 8) | (i + 1 < end ? p[i + 1] : 0);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return ~sum & 0xffff;
}

function echoReply(req: Uint8Array): Uint8Array {
  const p = Uint8Array.from(req);
  p.set(req.subarray(16, 20), 12); // swap source and destination
  p.set(req.subarray(12, 16), 16);
  const ihl = (p[0] & 0x0f) * 4;
  p[ihl] = 0; // echo reply
  p[ihl + 2] = p[ihl + 3] = 0;
  const c = checksum(p, ihl, p.length);
  p[ihl + 2] = c >> 8;
  p[ihl + 3] = c & 0xff;
  return p;
}

function tun(): Promise<void> {
  const fd = openTunDevice('udmtun0');
  execSync('ip addr add 10.200.0.1/24 dev udmtun0 && ip link set udmtun0 up');
  const buf = new Uint8Array(65536);
  let answered = 0;
  const watch = watchReadable(fd, () => {
    for (;;) {
      const n = readFd(fd, buf);
      if (n < 0) return;
      const pkt = buf.subarray(0, n);
      if (pkt[0] >> 4 === 4 && pkt[9] === 1 && pkt[(pkt[0] & 0x0f) * 4] === 8) {
        writeFd(fd, echoReply(pkt));
        answered++;
      }
    }
  });
  return new Promise((resolve) => {
    // Async exec: the event loop must keep running to serve the poll.
    exec('ping -c 3 -i 0.2 -W 2 10.200.0.2', (err, stdout) => {
      watch.close();
      closeFd(fd);
      if (!err && answered >= 3) console.log(`PASS tun: ping through udmtun0 answered by us (${answered} requests)`);
      else console.log(`FAIL tun: answered ${answered}; ping: ${err ? err.message : ''} ${stdout}`);
      resolve();
    });
  });
}

function packet(ifindex: number, peerCmd: string, want: string): Promise<void> {
  const fd = openPacketSocket({ ifindex, protocol: ETH_P_IPV6, filter: ndpFilter(), allmulti: true });
  const buf = new Uint8Array(2048);
  let other = 0;
  return new Promise((resolve) => {
    const timer = setTimeout(() => done(`FAIL packet: no NS captured (other frames: ${other})`), 5000);
    const done = (line: string) => {
      clearTimeout(timer);
      watch.close();
      closeFd(fd);
      console.log(line);
      resolve();
    };
    const watch = watchReadable(fd, () => {
      for (;;) {
        const n = readFd(fd, buf);
        if (n < 0) return;
        try {
          const m = decodeNdpFrame(buf.subarray(0, n));
          // The link-local address's DAD may come first: wait for ours.
          if (m.type === 'ns' && m.dad && formatIPv6(m.target) === want) return done(`PASS packet: DAD NS for ${want} captured`);
          other++;
        } catch {
          other++;
        }
      }
    });
    exec(peerCmd);
  });
}

async function main() {
  const [what, arg, cmd, want] = process.argv.slice(2);
  if (what === 'tun') await tun();
  else if (what === 'packet') await packet(Number(arg), cmd, want);
  else throw new Error(`usage: native-probe.ts tun | packet IFINDEX PEER_CMD TARGET`);
}

main().catch((err) => {
  console.log(`FAIL ${process.argv[2]}: ${err.message}`);
  process.exitCode = 1;
});
