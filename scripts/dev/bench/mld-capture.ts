// Watches an interface for MLD reports sent by one MAC and prints one line per
// group they name, as each frame is read: "<monotonic ns> <icmp type> <group>".
// Type 143 is an MLDv2 report (RFC 3810 s5.2, one line per multicast address
// record), 131 an MLDv1 report (RFC 2710 s3). Prints "# ready" once capturing.
// For scripts/dev/bench.sh; runs until SIGTERM.
//
// Usage: node -r esbuild-register scripts/dev/bench/mld-capture.ts --if IF --from-mac MAC
import { parseArgs } from 'node:util';
import { formatIPv6 } from '../../../src/lib/ip';
import { closeFd, ETH_P_IPV6, openPacketSocket, readFd, watchReadable } from '../../../src/lib/native';
import { ifindexOf, monotonicNs } from './addresses';

const { values: o } = parseArgs({ options: { if: { type: 'string' }, 'from-mac': { type: 'string' } } });
if (!o.if || !o['from-mac']) throw new Error('--if IF and --from-mac MAC are required');
const fromMac = Buffer.from(o['from-mac'].split(':').map((h) => parseInt(h, 16)));

const ETH = 14;
const IP6 = 40;
const NH_HOP_BY_HOP = 0;
const NH_ICMPV6 = 58;
const MLD_V1_REPORT = 131;
const MLD_V2_REPORT = 143;

/** Groups named by an MLD report in this frame (empty when it is something else). */
function reportedGroups(f: Buffer): { type: number; groups: string[] } | undefined {
  if (f.length < ETH + IP6 || !f.subarray(6, 12).equals(fromMac) || f.readUInt16BE(12) !== 0x86dd) return undefined;
  const end = Math.min(f.length, ETH + IP6 + f.readUInt16BE(ETH + 4));
  let nh = f[ETH + 6];
  let p = ETH + IP6;
  if (nh === NH_HOP_BY_HOP) {
    // MLD always carries a Router Alert in Hop-by-Hop (RFC 2710 s3, RFC 3810 s5).
    if (p + 2 > end) return undefined;
    nh = f[p];
    p += (f[p + 1] + 1) * 8;
  }
  if (nh !== NH_ICMPV6 || p + 8 > end) return undefined;
  const type = f[p];
  if (type === MLD_V1_REPORT && p + 24 <= end) return { type, groups: [formatIPv6(f.subarray(p + 8, p + 24))] };
  if (type !== MLD_V2_REPORT) return undefined;
  const groups: string[] = [];
  let r = p + 8;
  for (let n = f.readUInt16BE(p + 6); n > 0 && r + 20 <= end; n--) {
    // Record: type, aux data length (32-bit words), source count, group, sources, aux data.
    groups.push(formatIPv6(f.subarray(r + 4, r + 20)));
    r += 20 + 16 * f.readUInt16BE(r + 2) + 4 * f[r + 1];
  }
  return { type, groups };
}

const fd = openPacketSocket({ ifindex: ifindexOf(o.if), protocol: ETH_P_IPV6, receiveBuffer: 1 << 20 });
const buf = Buffer.alloc(9216);
const watch = watchReadable(fd, () => {
  for (;;) {
    const n = readFd(fd, buf);
    if (n < 0) return;
    const at = monotonicNs();
    const r = reportedGroups(buf.subarray(0, n));
    if (r) process.stdout.write(r.groups.map((g) => `${at} ${r.type} ${g}\n`).join(''));
  }
});
process.stdout.write('# ready\n');
process.on('SIGTERM', () => {
  watch.close();
  closeFd(fd);
});
