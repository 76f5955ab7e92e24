// Sends DAD Neighbor Solicitations (source ::, to the target's solicited-node
// group, RFC 4862 s5.4.2) as raw Ethernet frames on one interface at a steady
// rate. A token bucket refilled every 10 ms tick sends what is due, so the
// achieved rate holds even when a tick comes late. For scripts/dev/bench.sh only:
// it runs inside the bench's own network namespaces.
//
// Usage: node -r esbuild-register scripts/dev/bench/ns-flood.ts --if IF [options]
//   --prefix P      the /64 targets are in (2001:db8:1::/64)
//   --addresses N   the known set: bench addresses 1..N, sent in turn (1)
//   --count C       frames to send (default N), or
//   --duration S    send for S seconds
//   --rate R        frames per second (1000)
//   --random F      fraction of frames with a random new target in P (0)
//   --src-mac M     Ethernet source (02:00:00:00:01:01)
//   --log-sent      print "<monotonic ns> <group>" as each frame leaves
// Prints "# sending" when the first frame goes out and a JSON summary last:
//   {"sent":N,"blocked":N,"seconds":S,"rate":R}
import { parseArgs } from 'node:util';
import { formatIPv6 } from '../../../src/lib/ip';
import { closeFd, ETH_P_IPV6, openPacketSocket, writeFd } from '../../../src/lib/native';
import { encodeNeighborSolicitation } from '../../../src/mld-proxy/ndp';
import { solicitedNodeGroup } from '../../../src/mld-proxy/solicited-node';
import { benchAddress, ifindexOf, monotonicNs, parsePrefix64, PROXY_BASE } from './addresses';

const TICK_MS = 10;
const UNSPECIFIED = new Uint8Array(16);

const { values: o } = parseArgs({
  options: {
    if: { type: 'string' },
    prefix: { type: 'string', default: '2001:db8:1::/64' },
    addresses: { type: 'string', default: '1' },
    count: { type: 'string' },
    duration: { type: 'string' },
    rate: { type: 'string', default: '1000' },
    random: { type: 'string', default: '0' },
    'src-mac': { type: 'string', default: '02:00:00:00:01:01' },
    'log-sent': { type: 'boolean', default: false },
  },
});
if (!o.if) throw new Error('--if IF is required');
const prefix = parsePrefix64(o.prefix!);
const known = Number(o.addresses);
const rate = Number(o.rate);
const randomShare = Number(o.random);
const limit = o.duration !== undefined ? Math.floor(Number(o.duration) * rate) : Number(o.count ?? known);
if (!(known >= 1 && rate > 0 && limit >= 1 && randomShare >= 0 && randomShare <= 1)) throw new Error('bad --addresses, --rate, --count/--duration or --random');

const knownTargets = Array.from({ length: known }, (_, i) => benchAddress(prefix, PROXY_BASE, i + 1));
const randomTarget = new Uint8Array(16);
randomTarget.set(prefix.subarray(0, 8), 0);
let nextKnown = 0;

function nextTarget(): Uint8Array {
  if (randomShare > 0 && Math.random() < randomShare) {
    for (let i = 8; i < 16; i++) randomTarget[i] = (Math.random() * 256) | 0;
    return randomTarget;
  }
  const t = knownTargets[nextKnown];
  nextKnown = (nextKnown + 1) % known;
  return t;
}

const fd = openPacketSocket({ ifindex: ifindexOf(o.if), protocol: ETH_P_IPV6 });
let sent = 0;
let blocked = 0;
let pending: Uint8Array | undefined; // a frame the queue refused, sent first next tick
let pendingGroup = '';
const t0 = monotonicNs();
let last = t0;
process.stdout.write('# sending\n');

function tick(): void {
  const now = monotonicNs();
  const due = Math.min(limit, Math.floor((Number(now - t0) * rate) / 1e9) + 1);
  while (sent < due) {
    if (!pending) {
      const target = nextTarget();
      const group = solicitedNodeGroup(target);
      pending = encodeNeighborSolicitation({ source: UNSPECIFIED, destination: group, target, srcMac: o['src-mac']! });
      if (o['log-sent']) pendingGroup = formatIPv6(group);
    }
    const at = monotonicNs();
    if (!writeFd(fd, pending)) {
      blocked++;
      break; // the device queue is full: what is due goes out next tick
    }
    if (o['log-sent']) process.stdout.write(`${at} ${pendingGroup}\n`);
    pending = undefined;
    sent++;
    last = at;
  }
  if (sent >= limit) {
    clearInterval(timer);
    closeFd(fd);
    // The last frame is due at (limit - 1) / rate; count the whole last period.
    const seconds = Number(last - t0) / 1e9 + 1 / rate;
    process.stdout.write(JSON.stringify({ sent, blocked, seconds: +seconds.toFixed(3), rate: Math.round(sent / seconds) }) + '\n');
  }
}

const timer = setInterval(tick, TICK_MS);
tick();
