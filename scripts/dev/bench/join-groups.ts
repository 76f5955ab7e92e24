// The latency baseline: joins solicited-node groups on an interface directly,
// the way mld-proxy's group joiner does (dgram addMembership with an interface
// scope), one every interval, printing "<monotonic ns> <group>" just before
// each join. What mld-proxy adds on top is capture, decode and table work.
//
// Usage: node -r esbuild-register scripts/dev/bench/join-groups.ts --if IF [--count N] [--interval-ms MS]
import * as dgram from 'node:dgram';
import { parseArgs } from 'node:util';
import { formatIPv6 } from '../../../src/lib/ip';
import { solicitedNodeGroup } from '../../../src/mld-proxy/solicited-node';
import { BASELINE_BASE, benchAddress, monotonicNs, parsePrefix64 } from './addresses';

const { values: o } = parseArgs({
  options: {
    if: { type: 'string' },
    prefix: { type: 'string', default: '2001:db8:1::/64' },
    count: { type: 'string', default: '50' },
    'interval-ms': { type: 'string', default: '100' },
  },
});
if (!o.if) throw new Error('--if IF is required');
const prefix = parsePrefix64(o.prefix!);
const count = Number(o.count);
const socket = dgram.createSocket({ type: 'udp6', reuseAddr: true });
let i = 0;
const timer = setInterval(() => {
  i++;
  const group = formatIPv6(solicitedNodeGroup(benchAddress(prefix, BASELINE_BASE, i)));
  process.stdout.write(`${monotonicNs()} ${group}\n`);
  socket.addMembership(group, `::%${o.if}`);
  if (i >= count) {
    clearInterval(timer);
    // Stay a member a moment, so the capture sees the last report before the leave.
    setTimeout(() => socket.close(), 500);
  }
}, Number(o['interval-ms']));
