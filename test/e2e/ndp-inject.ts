// Floods one interface with DAD Neighbor Solicitations (source ::, sent to the
// target's solicited-node group, RFC 4862 s5.4.2) for random addresses in a
// /64, as raw Ethernet frames. For mld-proxy.test.sh only: it runs inside the
// test's own network namespaces.
//
// Usage: node -r esbuild-register test/e2e/ndp-inject.ts IFACE COUNT [PREFIX]
//   PREFIX defaults to 2001:db8:1:: (the upper 64 bits are kept).
//        node -r esbuild-register test/e2e/ndp-inject.ts IFACE --ns SOURCE TARGET
//   one NS from SOURCE asking for TARGET (address resolution, RFC 4861 s7.2.2).
// Prints {"sent":N,"blocked":N} when done.
import { randomFillSync } from 'node:crypto';
import * as fs from 'node:fs';
import { parseIPv6 } from '../../src/lib/ip';
import { closeFd, ETH_P_IPV6, openPacketSocket, writeFd } from '../../src/lib/native';
import { encodeNeighborSolicitation } from '../../src/mld-proxy/ndp';
import { solicitedNodeGroup } from '../../src/mld-proxy/solicited-node';

// Frames per event-loop turn: fast enough to overrun a small table, slow
// enough that the receiver's socket buffer is not the only thing tested.
const BATCH = 200;

const SRC_MAC = '02:00:00:00:0f:01';
const args = process.argv.slice(2);
const ifname = args[0];
const single = args[1] === '--ns';
const count = single ? 1 : Number(args[1]);
if (!ifname || !Number.isInteger(count) || count < 1 || (single && args.length !== 4)) {
  process.stderr.write('usage: ndp-inject.ts IFACE COUNT [PREFIX] | IFACE --ns SOURCE TARGET\n');
  process.exit(2);
}
const prefix = parseIPv6((single ? '::' : (args[2] ?? '2001:db8:1::')).split('/')[0]);
const ifindex = Number(fs.readFileSync(`/sys/class/net/${ifname}/ifindex`, 'utf8'));
const fd = openPacketSocket({ ifindex, protocol: ETH_P_IPV6 });
const unspecified = new Uint8Array(16);
let sent = 0;
let blocked = 0;

if (single) {
  const target = parseIPv6(args[3]);
  const frame = encodeNeighborSolicitation({
    source: parseIPv6(args[2]),
    destination: solicitedNodeGroup(target),
    target,
    srcMac: SRC_MAC,
    sourceLinkLayer: SRC_MAC,
  });
  if (!writeFd(fd, frame)) throw new Error(`${ifname}: the device queue is full`);
  closeFd(fd);
  process.stdout.write(JSON.stringify({ sent: 1, blocked: 0 }) + '\n');
  process.exit(0);
}

function batch(): void {
  for (let i = 0; i < BATCH && sent < count; i++) {
    const target = new Uint8Array(16);
    target.set(prefix.subarray(0, 8));
    randomFillSync(target, 8, 8);
    const frame = encodeNeighborSolicitation({
      source: unspecified,
      destination: solicitedNodeGroup(target),
      target,
      srcMac: SRC_MAC,
    });
    if (!writeFd(fd, frame)) {
      blocked++; // the device queue is full: try again next turn
      break;
    }
    sent++;
  }
  if (sent < count) {
    setTimeout(batch, 5);
    return;
  }
  closeFd(fd);
  process.stdout.write(JSON.stringify({ sent, blocked }) + '\n');
}

batch();
