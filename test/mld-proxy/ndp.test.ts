import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatIPv6, parseIPv6 } from '../../src/lib/ip';
import {
  NdpError,
  decodeNdpFrame,
  encodeNeighborAdvertisement,
  encodeNeighborSolicitation,
  icmpv6Checksum,
  learnableAddresses,
  type NdpErrorReason,
} from '../../src/mld-proxy/ndp';

const HOST_MAC = '52:54:00:12:34:56';
const ROUTER_MAC = '52:54:00:ab:cd:ef';
const mac = (b: Uint8Array | undefined) => (b === undefined ? undefined : [...b].map((x) => x.toString(16).padStart(2, '0')).join(':'));
const ip = (b: Uint8Array) => formatIPv6(b);

// Offsets in an untagged frame.
const IP = 14;
const ICMP = IP + 40;

const ns = () =>
  encodeNeighborSolicitation({
    source: '2001:db8::1',
    destination: 'ff02::1:ff00:2',
    target: '2001:db8::2',
    srcMac: HOST_MAC,
    sourceLinkLayer: HOST_MAC,
  });
const dad = () =>
  encodeNeighborSolicitation({ source: '::', destination: 'ff02::1:ff34:5678', target: '2001:db8::1234:5678', srcMac: HOST_MAC });
const na = () =>
  encodeNeighborAdvertisement({
    source: '2001:db8::2',
    destination: '2001:db8::1',
    target: '2001:db8::2',
    srcMac: HOST_MAC,
    dstMac: ROUTER_MAC,
    targetLinkLayer: HOST_MAC,
    solicited: true,
    override: true,
  });

// Edits a frame and recomputes its ICMPv6 checksum (where the frame still has room for one),
// so each test meets the rule it is about and not the checksum check before it.
function edit(frame: Uint8Array, fn: (f: Uint8Array) => void): Uint8Array {
  const copy = frame.slice();
  fn(copy);
  return resealed(copy);
}

function resealed(f: Uint8Array): Uint8Array {
  const ip = ((f[12] << 8) | f[13]) === 0x8100 ? 18 : 14;
  const end = ip + 40 + ((f[ip + 4] << 8) | f[ip + 5]);
  const icmp = f[ip + 6] === 0 ? ip + 40 + (f[ip + 41] + 1) * 8 : ip + 40;
  if (end > f.length || icmp + 4 > end) return f;
  f[icmp + 2] = f[icmp + 3] = 0;
  const sum = icmpv6Checksum(f.subarray(ip + 8, ip + 24), f.subarray(ip + 24, ip + 40), f.subarray(icmp, end));
  f[icmp + 2] = sum >> 8;
  f[icmp + 3] = sum & 0xff;
  return f;
}

function rejects(frame: Uint8Array, reason: NdpErrorReason, message?: RegExp): void {
  try {
    decodeNdpFrame(frame);
  } catch (e) {
    assert.instance(e, NdpError);
    assert.is((e as NdpError).reason, reason, (e as Error).message);
    if (message) assert.match((e as Error).message, message);
    return;
  }
  assert.unreachable(`expected NdpError ${reason}`);
}

/** Insert an 8-byte Hop-by-Hop header (PadN only) whose next header is nh. */
function withHopByHop(frame: Uint8Array, nh: number): Uint8Array {
  const out = new Uint8Array(frame.length + 8);
  out.set(frame.subarray(0, ICMP), 0);
  out.set([frame[IP + 6], 0, 1, 4, 0, 0, 0, 0], ICMP);
  out.set(frame.subarray(ICMP), ICMP + 8);
  out[IP + 6] = 0;
  const len = ((frame[IP + 4] << 8) | frame[IP + 5]) + 8;
  out[IP + 4] = len >> 8;
  out[IP + 5] = len & 0xff;
  if (nh !== frame[IP + 6]) out[ICMP] = nh;
  return resealed(out);
}

test('NS round-trips through encode and decode', () => {
  const frame = ns();
  assert.is(frame.length, 14 + 40 + 24 + 8);
  assert.is(mac(frame.subarray(0, 6)), '33:33:ff:00:00:02', 'RFC 2464 s7 multicast MAC');
  const m = decodeNdpFrame(frame);
  assert.is(m.type, 'ns');
  assert.is(ip(m.source), '2001:db8::1');
  assert.is(ip(m.destination), 'ff02::1:ff00:2');
  assert.is(ip(m.target), '2001:db8::2');
  assert.is(m.dad, false);
  assert.is(mac(m.sourceLinkLayer), HOST_MAC);
  assert.is(m.targetLinkLayer, undefined);
  assert.is(m.vlan, undefined);
  assert.equal(learnableAddresses(m).map(ip), ['2001:db8::2', '2001:db8::1']);
});

test('DAD NS round-trips and learns only the target', () => {
  const m = decodeNdpFrame(dad());
  assert.is(m.type, 'ns');
  assert.is(m.dad, true);
  assert.is(ip(m.source), '::');
  assert.is(m.sourceLinkLayer, undefined);
  assert.equal(learnableAddresses(m).map(ip), ['2001:db8::1234:5678']);
});

test('NA round-trips with flags and target link-layer address', () => {
  const m = decodeNdpFrame(na());
  assert.is(m.type, 'na');
  assert.is(m.dad, false);
  assert.is(m.router, false);
  assert.is(m.solicited, true);
  assert.is(m.override, true);
  assert.is(mac(m.targetLinkLayer), HOST_MAC);
  assert.equal(learnableAddresses(m).map(ip), ['2001:db8::2']);

  const unsolicited = decodeNdpFrame(
    encodeNeighborAdvertisement({ source: 'fe80::1', destination: 'ff02::1', target: '2001:db8::9', srcMac: ROUTER_MAC, router: true, override: true }),
  );
  assert.is(unsolicited.router, true);
  assert.is(unsolicited.solicited, false);
  assert.is(unsolicited.targetLinkLayer, undefined);
  assert.equal(learnableAddresses(unsolicited).map(ip), ['2001:db8::9']);
});

test('NS whose source is its own target learns it once', () => {
  const m = decodeNdpFrame(
    encodeNeighborSolicitation({ source: '2001:db8::7', destination: 'ff02::1:ff00:7', target: '2001:db8::7', srcMac: HOST_MAC }),
  );
  assert.equal(learnableAddresses(m).map(ip), ['2001:db8::7']);
});

test('encoded checksums verify (sum over message with checksum is 0)', () => {
  for (const frame of [ns(), dad(), na()]) {
    const src = frame.subarray(IP + 8, IP + 24);
    const dst = frame.subarray(IP + 24, IP + 40);
    assert.is(icmpv6Checksum(src, dst, frame.subarray(ICMP)), 0);
    assert.is.not((frame[ICMP + 2] << 8) | frame[ICMP + 3], 0);
  }
  // Odd-length message: the last byte is padded with zero on the right (RFC 1071).
  assert.is(icmpv6Checksum(new Uint8Array(16), new Uint8Array(16), Uint8Array.of(0xff)), ~(58 + 1 + 0xff00) & 0xffff);
});

test('encoded NS matches a golden frame (tcpdump -vvv: "icmp6 sum ok")', () => {
  assert.is(
    Buffer.from(ns()).toString('hex'),
    '3333ff000002525400123456' + '86dd' +
      '6000000000203aff' + '20010db8000000000000000000000001' + 'ff0200000000000000000001ff000002' +
      '8700976b00000000' + '20010db8000000000000000000000002' + '0101525400123456',
  );
});

test('decoded addresses are views into the frame', () => {
  const frame = ns();
  const m = decodeNdpFrame(frame);
  assert.is(m.target.buffer, frame.buffer);
  frame[ICMP + 23] = 9;
  assert.is(ip(m.target), '2001:db8::9');
});

test('every truncation throws NdpError truncated, never anything else', () => {
  const frames = [ns(), dad(), na(), encodeNeighborSolicitation({ source: '::', destination: 'ff02::1:ff00:1', target: '2001:db8::1', srcMac: HOST_MAC, vlan: 5 })];
  frames.push(withHopByHop(ns(), 58));
  for (const frame of frames) {
    decodeNdpFrame(frame);
    for (let len = 0; len < frame.length; len++) rejects(frame.subarray(0, len), 'truncated');
  }
});

test('trailing Ethernet padding is ignored', () => {
  const frame = dad();
  const padded = new Uint8Array(frame.length + 20);
  padded.set(frame);
  padded.fill(0xee, frame.length);
  assert.is(ip(decodeNdpFrame(padded).target), '2001:db8::1234:5678');
});

test('hop limit other than 255 is malformed (RFC 4861 s7.1.1)', () => {
  rejects(edit(ns(), (f) => (f[IP + 7] = 254)), 'hop-limit', /NS hop limit is 254, must be 255/);
  rejects(encodeNeighborAdvertisement({ source: '2001:db8::2', destination: 'ff02::1', target: '2001:db8::2', srcMac: HOST_MAC, hopLimit: 1 }), 'hop-limit', /NA hop limit is 1/);
});

test('a wrong ICMPv6 checksum is malformed (RFC 4861 s7.1.1: the kernel would drop it)', () => {
  for (const frame of [ns(), dad(), na(), withHopByHop(na(), 58)]) {
    const icmp = frame[IP + 6] === 0 ? ICMP + 8 : ICMP;
    for (const flip of [icmp + 2, icmp + 8, frame.length - 1, IP + 8 + 15, IP + 24 + 3]) {
      // Any bit of the message or of the pseudo-header's addresses counts (RFC 8200 s8.1).
      rejects(frame.slice().fill(frame[flip] ^ 0x10, flip, flip + 1), 'checksum', /ICMPv6 checksum 0x[0-9a-f]{4} is wrong/);
    }
  }
  // Ethernet padding after the payload is not part of the sum.
  const padded = new Uint8Array(dad().length + 6);
  padded.set(dad());
  padded.fill(0xee, dad().length);
  decodeNdpFrame(padded);
});

test('ICMPv6 code other than 0 is malformed', () => {
  rejects(edit(ns(), (f) => (f[ICMP + 1] = 1)), 'code', /NS ICMPv6 code is 1, must be 0/);
  rejects(edit(na(), (f) => (f[ICMP + 1] = 1)), 'code', /NA ICMPv6 code is 1/);
});

test('ICMPv6 length under 24 is malformed', () => {
  // Shrink the IPv6 payload length; the bytes left behind look like Ethernet padding.
  rejects(edit(dad(), (f) => (f[IP + 5] = 20)), 'length', /NS ICMPv6 length is 20, must be at least 24/);
  rejects(edit(dad(), (f) => (f[IP + 5] = 0)), 'length', /ICMPv6 message is empty/);
});

test('zero-length option is malformed (RFC 4861 s4.6)', () => {
  rejects(edit(ns(), (f) => (f[ICMP + 25] = 0)), 'option', /option type 1 at ICMPv6 offset 24 has length 0/);
});

test('option overrunning the message is malformed', () => {
  rejects(edit(ns(), (f) => (f[ICMP + 25] = 2)), 'option', /option type 1 at ICMPv6 offset 24 is 16 bytes, overruns the message by 8/);
  // A lone trailing byte cannot hold type and length.
  const grown = new Uint8Array(ns().length + 1);
  grown.set(ns());
  grown[IP + 5] += 1;
  rejects(resealed(grown), 'option', /has 1 byte, needs at least 2/);
});

test('unknown options are skipped', () => {
  const base = ns();
  const frame = new Uint8Array(base.length + 8);
  frame.set(base);
  frame.set([99, 1, 1, 2, 3, 4, 5, 6], base.length);
  frame[IP + 5] += 8;
  assert.is(mac(decodeNdpFrame(resealed(frame)).sourceLinkLayer), HOST_MAC);
});

test('multicast target is malformed', () => {
  rejects(encodeNeighborSolicitation({ source: '2001:db8::1', destination: 'ff02::1:ff00:1', target: 'ff02::1', srcMac: HOST_MAC }), 'target-multicast');
  rejects(encodeNeighborAdvertisement({ source: '2001:db8::1', destination: 'ff02::1', target: 'ff05::2', srcMac: HOST_MAC }), 'target-multicast');
});

test('DAD NS rules (RFC 4861 s7.1.1)', () => {
  rejects(encodeNeighborSolicitation({ source: '::', destination: 'ff02::1', target: '2001:db8::1', srcMac: HOST_MAC }), 'dad-destination');
  rejects(encodeNeighborSolicitation({ source: '::', destination: '2001:db8::1', target: '2001:db8::1', srcMac: HOST_MAC, dstMac: ROUTER_MAC }), 'dad-destination');
  rejects(
    encodeNeighborSolicitation({ source: '::', destination: 'ff02::1:ff00:1', target: '2001:db8::1', srcMac: HOST_MAC, sourceLinkLayer: HOST_MAC }),
    'dad-option',
  );
});

test('solicited NA to a multicast destination is malformed (RFC 4861 s7.1.2)', () => {
  rejects(
    encodeNeighborAdvertisement({ source: '2001:db8::2', destination: 'ff02::1', target: '2001:db8::2', srcMac: HOST_MAC, solicited: true }),
    'solicited-multicast',
  );
});

test('802.1Q-tagged frame decodes with its VLAN id', () => {
  const frame = encodeNeighborSolicitation({ source: '2001:db8::1', destination: 'ff02::1:ff00:2', target: '2001:db8::2', srcMac: HOST_MAC, vlan: 42 });
  assert.is((frame[12] << 8) | frame[13], 0x8100);
  const m = decodeNdpFrame(frame);
  assert.is(m.vlan, 42);
  assert.is(ip(m.target), '2001:db8::2');
  rejects(edit(frame, (f) => (f[IP + 4 + 7] = 64)), 'hop-limit');
});

test('Hop-by-Hop header in front of ICMPv6 is walked', () => {
  const m = decodeNdpFrame(withHopByHop(ns(), 58));
  assert.is(ip(m.target), '2001:db8::2');
  assert.is(mac(m.sourceLinkLayer), HOST_MAC);
  rejects(edit(withHopByHop(ns(), 58), (f) => (f[ICMP + 1] = 200)), 'truncated', /Hop-by-Hop header of 1608 bytes overruns/);
});

test('frames that are not NS/NA are ignored as not-ndp', () => {
  rejects(edit(ns(), (f) => (f[IP + 6] = 17)), 'not-ndp', /next header 17 is not ICMPv6/);
  rejects(edit(ns(), (f) => (f[IP + 6] = 44)), 'not-ndp', /next header 44/);
  rejects(edit(withHopByHop(ns(), 58), (f) => (f[ICMP] = 6)), 'not-ndp', /next header 6/);
  rejects(edit(ns(), (f) => (f[13] = 0x00)), 'not-ndp', /ethertype 0x8600 is not IPv6/);
  rejects(edit(ns(), (f) => (f[ICMP] = 128)), 'not-ndp', /ICMPv6 type 128 is not NS \(135\) or NA \(136\)/);
  rejects(edit(ns(), (f) => (f[ICMP] = 134)), 'not-ndp');
  // Type is checked before hop limit: a router advertisement with any hop limit is not ours.
  rejects(edit(ns(), (f) => ((f[ICMP] = 134), (f[IP + 7] = 1))), 'not-ndp');
});

test('IP version other than 6 under ethertype 0x86dd is malformed', () => {
  rejects(edit(ns(), (f) => (f[IP] = 0x45)), 'ip-version', /IP version is 4, expected 6/);
});

test('random corruption only ever throws NdpError', () => {
  let seed = 99;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) >> 8;
  const bases = [ns(), dad(), na(), withHopByHop(na(), 58)];
  for (let n = 0; n < 20000; n++) {
    const base = bases[n % bases.length];
    const f = base.slice(0, base.length - (rnd() % 3 === 0 ? rnd() % base.length : 0));
    for (let k = 1 + (rnd() % 4); k > 0; k--) if (f.length > 0) f[rnd() % f.length] = rnd() & 0xff;
    try {
      const m = decodeNdpFrame(f);
      assert.ok(m.type === 'ns' || m.type === 'na');
      assert.is(m.target.length, 16);
    } catch (e) {
      if (!(e instanceof NdpError)) throw e;
    }
  }
});

test('encoder input errors', () => {
  assert.throws(
    () => encodeNeighborSolicitation({ source: '2001:db8::1', destination: '2001:db8::2', target: '2001:db8::2', srcMac: HOST_MAC }),
    /dstMac is required for a unicast destination/,
  );
  assert.throws(() => encodeNeighborSolicitation({ source: '2001:db8::1', destination: 'ff02::1:ff00:2', target: '2001:db8::2', srcMac: '52:54' }), /srcMac "52:54" is not a MAC address/);
  assert.throws(() => encodeNeighborSolicitation({ source: new Uint8Array(4), destination: 'ff02::1:ff00:2', target: '2001:db8::2', srcMac: HOST_MAC }), /source must be 16 bytes, got 4/);
  assert.equal([...parseIPv6('2001:db8::2')], [...decodeNdpFrame(ns()).target]);
});

test.run();
