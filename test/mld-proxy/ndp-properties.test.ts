// Properties of the NDP frame codec (what the AF_PACKET capture hands mld-proxy): any bytes
// are refused with NdpError or decoded; encode then decode gives the message back; a valid
// frame mutated is refused or still a frame the RFC 4861 s7.1 checks accept.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatIPv6 } from '../../src/lib/ip';
import {
  decodeNdpFrame,
  encodeNeighborAdvertisement,
  encodeNeighborSolicitation,
  icmpv6Checksum,
  learnableAddresses,
  NdpError,
} from '../../src/mld-proxy/ndp';
import { isSolicitedNodeGroup, solicitedNodeGroup } from '../../src/mld-proxy/solicited-node';
import { decodeOrRefuse, fc, holds, mutate, mutations } from '../property';

const bytes16 = fc.uint8Array({ minLength: 16, maxLength: 16 });
const unicast = bytes16.map((b) => (b[0] === 0xff ? Uint8Array.of(0x20, ...b.subarray(1)) : b));
const mac = fc.uint8Array({ minLength: 6, maxLength: 6 });
const vlan = fc.option(fc.integer({ min: 0, max: 4095 }), { nil: undefined });

/** NS as hosts send them: address resolution (to the target's group or unicast) or DAD from ::. */
const nsInit = fc.record({ source: unicast, target: unicast, srcMac: mac, lladdr: fc.option(mac, { nil: undefined }), dad: fc.boolean(), toGroup: fc.boolean(), dstMac: mac, vlan });
const naInit = fc.record({ source: unicast, destination: fc.oneof(unicast, fc.constant(Uint8Array.of(0xff, 2, ...new Uint8Array(13), 1))), target: unicast, srcMac: mac, dstMac: mac, lladdr: fc.option(mac, { nil: undefined }), router: fc.boolean(), solicited: fc.boolean(), override: fc.boolean(), vlan });

function ns(i: typeof nsInit extends fc.Arbitrary<infer T> ? T : never): Uint8Array {
  const source = i.dad ? new Uint8Array(16) : i.source;
  const destination = i.dad || i.toGroup ? solicitedNodeGroup(i.target) : i.target;
  return encodeNeighborSolicitation({ source, destination, target: i.target, srcMac: i.srcMac, dstMac: destination[0] === 0xff ? undefined : i.dstMac, sourceLinkLayer: i.dad ? undefined : i.lladdr, vlan: i.vlan });
}

function na(i: typeof naInit extends fc.Arbitrary<infer T> ? T : never): Uint8Array {
  const multicast = i.destination[0] === 0xff;
  return encodeNeighborAdvertisement({ ...i, solicited: i.solicited && !multicast, targetLinkLayer: i.lladdr, dstMac: multicast ? undefined : i.dstMac });
}

const validFrame = fc.oneof(nsInit.map(ns), naInit.map(na));

test('any bytes: NdpError or a message, never another throw', () => {
  holds(fc.property(fc.uint8Array({ maxLength: 160 }), (b) => void decodeOrRefuse(() => decodeNdpFrame(b))), 2000);
});

test('any bytes behind a plausible Ethernet + IPv6 + ICMPv6 NS/NA head', () => {
  const head = fc.tuple(validFrame, fc.nat(), fc.uint8Array({ maxLength: 120 })).map(([f, cut, tail]) => {
    const keep = 14 + 40 + (cut % 30);
    return Buffer.concat([Buffer.from(f.subarray(0, Math.min(keep, f.length))), Buffer.from(tail)]);
  });
  holds(fc.property(head, (b) => void decodeOrRefuse(() => decodeNdpFrame(b))), 2000);
});

test('encode then decode gives back every field', () => {
  holds(
    fc.property(nsInit, (i) => {
      const m = decodeNdpFrame(ns(i));
      assert.is(m.type, 'ns');
      assert.is(m.dad, i.dad);
      assert.is(formatIPv6(m.target), formatIPv6(i.target));
      assert.is(formatIPv6(m.source), formatIPv6(i.dad ? new Uint8Array(16) : i.source));
      assert.equal(m.sourceLinkLayer && [...m.sourceLinkLayer], i.dad || !i.lladdr ? undefined : [...i.lladdr]);
      assert.is(m.vlan, i.vlan);
    }),
    500,
  );
  holds(
    fc.property(naInit, (i) => {
      const m = decodeNdpFrame(na(i));
      assert.is(m.type, 'na');
      assert.is(formatIPv6(m.target), formatIPv6(i.target));
      assert.is(formatIPv6(m.destination), formatIPv6(i.destination));
      assert.equal([m.router, m.solicited, m.override], [i.router, i.solicited && i.destination[0] !== 0xff, i.override]);
      assert.equal(m.targetLinkLayer && [...m.targetLinkLayer], i.lladdr && [...i.lladdr]);
      assert.equal(learnableAddresses(m).map(formatIPv6), [formatIPv6(i.target)]);
    }),
    500,
  );
});

test('a mutated frame is refused, or still passes every RFC 4861 s7.1 check', () => {
  holds(
    fc.property(validFrame, mutations, (frame, edits) => {
      const f = mutate(frame, edits);
      const m = decodeOrRefuse(() => decodeNdpFrame(f));
      if (!m) return;
      const ip = f[12] === 0x81 && f[13] === 0 ? 18 : 14;
      assert.is(f[ip + 7], 255, 'hop limit');
      const icmp = m.target.byteOffset - f.byteOffset - 8;
      const end = ip + 40 + ((f[ip + 4] << 8) | f[ip + 5]);
      assert.is(icmpv6Checksum(m.source, m.destination, f.subarray(icmp, end)), 0, 'checksum');
      assert.is(f[icmp + 1], 0, 'code');
      assert.ok(m.target[0] !== 0xff, 'target not multicast');
      if (m.dad) assert.ok(isSolicitedNodeGroup(m.destination) && !m.sourceLinkLayer, 'DAD rules');
      for (const a of learnableAddresses(m)) assert.is(a.length, 16);
    }),
    3000,
  );
});

test('a single flipped bit anywhere in the ICMPv6 message is refused', () => {
  holds(
    fc.property(validFrame, fc.nat(), fc.nat(7), (frame, at, bit) => {
      const ip = frame[12] === 0x81 ? 18 : 14;
      const icmp = ip + 40;
      const f = frame.slice();
      f[icmp + (at % (f.length - icmp))] ^= 1 << bit;
      try {
        decodeNdpFrame(f);
      } catch (err) {
        assert.instance(err, NdpError);
        return;
      }
      assert.unreachable('a corrupted message was accepted');
    }),
    1000,
  );
});

test.run();
