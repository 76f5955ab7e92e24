// The tun offloads' pure parts: a TCP super-packet cut into segments (IPv4 and
// IPv6: headers, sequence numbers, checksums, flags on the first and last), and
// segments joined back (GRO), checked against a checksum written independently.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { completeChecksum, splitTcpSuperPacket, type Segments } from '../../src/udp-tunnel/tso';
import { TcpCoalescer } from '../../src/udp-tunnel/gro';
import { GSO_TCPV4, GSO_TCPV6, readVnetHeader, VNET_F_NEEDS_CSUM, VNET_HDR_BYTES, type VnetHeader } from '../../src/udp-tunnel/virtio';

// RFC 1071 the slow way: byte pairs.
function naiveSum(b: Uint8Array, start: number, end: number, acc = 0): number {
  let s = acc;
  for (let i = start; i < end; i += 2) s += (b[i] << 8) | (i + 1 < end ? b[i + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}
function tcpChecksumOk(p: Uint8Array): boolean {
  const v6 = p[0] >> 4 === 6;
  const ipLen = v6 ? 40 : (p[0] & 15) * 4;
  const a = v6 ? [8, 40] : [12, 20];
  const len = p.length - ipLen;
  return naiveSum(p, ipLen, p.length, naiveSum(p, a[0], a[1], 6 + len)) === 0xffff;
}
function ipv4HeaderOk(p: Uint8Array): boolean {
  return naiveSum(p, 0, 20) === 0xffff;
}

interface PacketSpec {
  v6?: boolean;
  payload: Uint8Array;
  seq?: number;
  flags?: number;
  id?: number;
  options?: boolean;
  src?: number;
}

/** A TCP packet with valid checksums (the checksum field filled as the wire has it). */
function tcpPacket(s: PacketSpec): Uint8Array {
  const ipLen = s.v6 ? 40 : 20;
  const tcpLen = s.options ? 32 : 20;
  const p = new Uint8Array(ipLen + tcpLen + s.payload.length);
  const v = new DataView(p.buffer);
  if (s.v6) {
    v.setUint32(0, 0x6000_0000);
    v.setUint16(4, tcpLen + s.payload.length);
    p[6] = 6;
    p[7] = 64;
    p.set([0xfd, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, s.src ?? 1], 8);
    p.set([0xfd, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], 24);
  } else {
    p[0] = 0x45;
    v.setUint16(2, p.length);
    v.setUint16(4, s.id ?? 0x1234);
    v.setUint16(6, 0x4000); // DF
    p[8] = 64;
    p[9] = 6;
    p.set([10, 8, 0, s.src ?? 1, 10, 8, 0, 2], 12);
    v.setUint16(10, ~naiveSum(p, 0, 20) & 0xffff);
  }
  const t = ipLen;
  v.setUint16(t, 40000);
  v.setUint16(t + 2, 5201);
  v.setUint32(t + 4, s.seq ?? 1000);
  v.setUint32(t + 8, 777);
  p[t + 12] = (tcpLen / 4) << 4;
  p[t + 13] = s.flags ?? 0x10;
  v.setUint16(t + 14, 512);
  if (s.options) p.set([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2], t + 20); // NOP NOP timestamps
  p.set(s.payload, ipLen + tcpLen);
  const a = s.v6 ? [8, 40] : [12, 20];
  v.setUint16(t + 16, ~naiveSum(p, t, p.length, naiveSum(p, a[0], a[1], 6 + tcpLen + s.payload.length)) & 0xffff);
  return p;
}

const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 255);

function split(pkt: Uint8Array, gsoType: number, mss: number, stride = 2048) {
  const buf = new Uint8Array(70_000 + 64 * stride);
  const view = new DataView(buf.buffer);
  buf.set(pkt, 0);
  const ipLen = pkt[0] >> 4 === 6 ? 40 : 20;
  const hdr: VnetHeader = { flags: VNET_F_NEEDS_CSUM, gsoType, hdrLen: 0, gsoSize: mss, csumStart: ipLen, csumOffset: 16 };
  const out: Segments = { count: 0, segBytes: 0, lastBytes: 0 };
  assert.ok(splitTcpSuperPacket(buf, view, 0, pkt.length, hdr, 70_000, stride, out));
  const segs: Uint8Array[] = [];
  for (let i = 0; i < out.count; i++) segs.push(buf.slice(70_000 + i * stride, 70_000 + i * stride + (i === out.count - 1 ? out.lastBytes : out.segBytes)));
  return { segs, out };
}

for (const v6 of [false, true]) {
  const fam = v6 ? 'IPv6' : 'IPv4';
  test(`${fam}: a super-packet is cut into MSS-sized packets with their own headers and checksums`, () => {
    const payload = bytes(10_000);
    // CWR on the first, PSH and FIN on the last: the kernel's rules.
    const pkt = tcpPacket({ v6, payload, seq: 0xffff_fe00, flags: 0x10 | 0x08 | 0x01 | 0x80, options: true });
    const { segs, out } = split(pkt, v6 ? GSO_TCPV6 : GSO_TCPV4, 1388);
    const hdrLen = (v6 ? 40 : 20) + 32;
    assert.is(out.count, 8);
    assert.is(out.segBytes, hdrLen + 1388);
    assert.is(out.lastBytes, hdrLen + 10_000 - 7 * 1388);
    const joined: number[] = [];
    segs.forEach((s, i) => {
      const v = new DataView(s.buffer);
      const t = v6 ? 40 : 20;
      if (v6) assert.is(v.getUint16(4), s.length - 40, 'payload length');
      else {
        assert.is(v.getUint16(2), s.length, 'total length');
        assert.is(v.getUint16(4), 0x1234 + i, 'IPv4 ID');
        assert.ok(ipv4HeaderOk(s), `IPv4 header checksum of ${i}`);
      }
      assert.is(v.getUint32(t + 4), (0xffff_fe00 + i * 1388) >>> 0, 'sequence number (wraps)');
      const f = s[t + 13];
      assert.is(f & 0x80, i === 0 ? 0x80 : 0, 'CWR on the first only');
      assert.is(f & 0x09, i === 7 ? 0x09 : 0, 'PSH and FIN on the last only');
      assert.is(f & 0x10, 0x10);
      assert.ok(tcpChecksumOk(s), `TCP checksum of ${i}`);
      assert.equal([...s.subarray(t + 20, t + 32)], [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2], 'options copied');
      joined.push(...s.subarray(hdrLen));
    });
    assert.equal(Uint8Array.from(joined), payload);
  });

  test(`${fam}: GRO joins the segments back into one super-packet the kernel can cut again`, () => {
    const payload = bytes(9000, 3);
    const pkt = tcpPacket({ v6, payload, flags: 0x18 });
    const { segs } = split(pkt, v6 ? GSO_TCPV6 : GSO_TCPV4, 1400);
    const buf = new Uint8Array(200_000);
    const view = new DataView(buf.buffer);
    const emitted: { tag: number; p: Uint8Array }[] = [];
    const g = new TcpCoalescer(buf, view, 120_000, (tag, off, len) => emitted.push({ tag, p: buf.slice(off, off + len) }));
    segs.forEach((s, i) => buf.set(s, 16 + i * 2048));
    segs.forEach((s, i) => g.add(7, 16 + i * 2048, s.length));
    assert.is(emitted.length, 0, 'held until the batch ends');
    g.flush();
    assert.is(emitted.length, 1);
    const e = emitted[0];
    assert.is(e.tag, 7);
    const h = readVnetHeader(new DataView(e.p.buffer), 0, {} as VnetHeader);
    const ipLen = v6 ? 40 : 20;
    assert.equal(h, { flags: VNET_F_NEEDS_CSUM, gsoType: v6 ? GSO_TCPV6 : GSO_TCPV4, hdrLen: ipLen + 20, gsoSize: 1400, csumStart: ipLen, csumOffset: 16 });
    const sp = e.p.subarray(VNET_HDR_BYTES);
    assert.is(sp.length, pkt.length);
    assert.equal(sp.subarray(ipLen + 20), payload);
    const v = new DataView(sp.buffer, sp.byteOffset);
    if (!v6) assert.ok(ipv4HeaderOk(sp));
    assert.is(sp[ipLen + 13], 0x18, 'PSH of the last segment kept');
    // The kernel finishes the partial checksum: the result must be the original's.
    const partial = v.getUint16(ipLen + 16);
    const a = v6 ? [8, 40] : [12, 20];
    assert.is(partial, naiveSum(sp, a[0], a[1], 6 + sp.length - ipLen), 'the pseudo-header sum');
    const done = Uint8Array.from(sp);
    const dv = new DataView(done.buffer);
    dv.setUint16(ipLen + 16, ~naiveSum(done, ipLen, done.length) & 0xffff);
    assert.ok(tcpChecksumOk(done));
    assert.is(g.joined, segs.length - 1);
  });
}

test('GRO: out of order, a bad checksum, another flow and non-TCP are passed on, in order per flow', () => {
  const buf = new Uint8Array(200_000);
  const view = new DataView(buf.buffer);
  const out: string[] = [];
  const g = new TcpCoalescer(buf, view, 120_000, (tag, off, len) => {
    const p = buf.subarray(off + VNET_HDR_BYTES, off + len);
    const v = new DataView(p.buffer, p.byteOffset);
    const what = p[9] === 17 ? 'udp' : `src${p[15]}:seq${v.getUint32(24)}`;
    out.push(`${tag}/${what}/${buf[off + 1] ? 'gso' : 'plain'}/${len - VNET_HDR_BYTES}`);
  });
  let slot = 0;
  const put = (tag: number, p: Uint8Array) => {
    const off = 16 + slot++ * 2048;
    buf.set(p, off);
    g.add(tag, off, p.length);
  };
  const seg = (seq: number, src = 1, n = 1000) => tcpPacket({ seq, src, payload: bytes(n, seq) });
  put(1, seg(0));
  put(1, seg(1000));
  put(1, seg(3000)); // a gap: the flow so far goes out, a new one starts
  put(1, seg(4000));
  const bad = seg(5000);
  bad[60] ^= 1; // one payload bit: the checksum no longer holds
  put(1, bad);
  put(2, seg(0, 1)); // the same addresses, another tunnel: another flow
  put(1, seg(0, 3)); // another host
  const udp = Uint8Array.from(seg(0, 4));
  udp[9] = 17;
  put(1, udp);
  g.flush();
  assert.equal(out, [
    '1/src1:seq0/gso/2040',
    '1/src1:seq3000/gso/2040', // flushed before the bad one of its flow
    '1/src1:seq5000/plain/1040',
    '1/udp/plain/1040',
    '2/src1:seq0/plain/1040',
    '1/src3:seq0/plain/1040',
  ].sort((a, b) => out.indexOf(a) - out.indexOf(b)));
  assert.is(out.length, 6);
  assert.ok(out.indexOf('1/src1:seq3000/gso/2040') < out.indexOf('1/src1:seq5000/plain/1040'), 'a flow is never overtaken');
});

test('a checksum left partial by the kernel is completed (UDP over IPv4)', () => {
  const p = new Uint8Array(20 + 8 + 33);
  const v = new DataView(p.buffer);
  p[0] = 0x45;
  v.setUint16(2, p.length);
  p[9] = 17;
  p.set([10, 8, 0, 1, 10, 8, 0, 2], 12);
  v.setUint16(24, 8 + 33);
  p.set(bytes(33), 28);
  // The kernel leaves the pseudo-header's folded sum in the field.
  v.setUint16(26, naiveSum(p, 12, 20, 17 + 41));
  assert.ok(completeChecksum(v, 0, p.length, 20, 6));
  assert.is(naiveSum(p, 20, p.length, naiveSum(p, 12, 20, 17 + 41)), 0xffff);
  assert.not.ok(completeChecksum(v, 0, p.length, 60, 6), 'offsets past the packet');
});

test.run();
