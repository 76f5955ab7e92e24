// The receive side of the tun offloads (what wireguard-go calls TCP GRO): the
// consecutive TCP segments of one flow that arrive in one batch of datagrams
// are joined into one super-packet, written to the tun device with a
// virtio-net header that lets the kernel treat it as one packet (and cut it
// again if it forwards it). The kernel then sees a few large packets instead
// of ~45 small ones per 64 KB.
//
// Joined only as the kernel's own GRO would (net/ipv4/tcp_offload.c): ACK or
// ACK|PSH segments with payload, in sequence, the same ACK number, window,
// options, TOS/traffic class and TTL/hop limit, no IP options, fragments or
// IPv6 extension headers; all but the last of the same size; a PSH or a
// shorter segment ends a flow. Each segment's checksums are verified first
// (a bad one is passed on alone, for the kernel to drop); the super-packet
// gets a partial checksum (NEEDS_CSUM) as the kernel's GRO leaves it.
//
// Pure and allocation-free: packets stay where they were received (offsets in
// one buffer, with VNET_HDR_BYTES of room before each); a joined packet is
// built in an output area of the same buffer; emit() is called with the
// header's offset and the length including it.
import { checksum, fold, pseudoHeaderSum, sumBytes } from '../lib/checksum';
import { transportChecksumValid } from './tso';
import { GSO_TCPV4, GSO_TCPV6, VNET_F_NEEDS_CSUM, VNET_HDR_BYTES, writePlainVnetHeader, writeVnetHeader } from './virtio';

const TCP_ACK = 0x10;
const TCP_PSH = 0x08;
const PROTO_TCP = 6;
const MAX_SEGMENTS = 64;
const MAX_IP_LENGTH = 65535;

/** Writes one packet (a vnet header first) to the tun device of `tag`. */
export type Emit = (tag: number, off: number, len: number) => void;

class Flow {
  tag = -1;
  off = 0;
  len = 0;
  v6 = false;
  ipLen = 0;
  hdrLen = 0;
  mss = 0;
  nextSeq = 0;
  total = 0; // IP length of the joined packet so far
  closed = false;
  psh = false;
  count = 0;
  readonly segOff = new Int32Array(MAX_SEGMENTS);
  readonly segLen = new Int32Array(MAX_SEGMENTS);
}

export class TcpCoalescer {
  private readonly flows: Flow[] = [];
  private live = 0;
  /** Packets joined into another (counted for the status). */
  joined = 0;
  /** Super-packets written. */
  superPackets = 0;

  /**
   * outOff: VNET_HDR_BYTES + 65535 bytes of u8 where a joined packet is built.
   */
  constructor(
    private readonly u8: Uint8Array,
    private readonly view: DataView,
    private readonly outOff: number,
    private readonly emit: Emit,
    maxFlows = 8,
  ) {
    for (let i = 0; i < maxFlows; i++) this.flows.push(new Flow());
  }

  /**
   * Offers the IP packet at off (len bytes, VNET_HDR_BYTES of room before it)
   * bound for the tun device `tag`. It is written at once, or held to be
   * joined; flush() writes what is held.
   */
  add(tag: number, off: number, len: number): void {
    const u8 = this.u8;
    const view = this.view;
    const version = u8[off] >> 4;
    const v6 = version === 6;
    let ipLen: number;
    if (version === 4) {
      ipLen = (u8[off] & 15) * 4;
      if (ipLen !== 20 || u8[off + 9] !== PROTO_TCP || len < 40 || view.getUint16(off + 2) !== len) return this.single(tag, off, len, false);
    } else if (v6) {
      ipLen = 40;
      if (u8[off + 6] !== PROTO_TCP || len < 60 || view.getUint16(off + 4) !== len - 40) return this.single(tag, off, len, false);
    } else return this.single(tag, off, len, false);
    const t = off + ipLen;
    const tcpLen = (u8[t + 12] >> 4) * 4;
    const hdrLen = ipLen + tcpLen;
    if (tcpLen < 20 || hdrLen > len) return this.single(tag, off, len, false);
    const flags = u8[t + 13];
    const payload = len - hdrLen;
    const fragmented = !v6 && (view.getUint16(off + 6) & 0x3fff) !== 0;
    if ((flags !== TCP_ACK && flags !== (TCP_ACK | TCP_PSH)) || payload === 0 || fragmented) return this.single(tag, off, len, true);
    if (!v6 && fold(sumBytes(view, off, 20)) !== 0xffff) return this.single(tag, off, len, true);
    if (!transportChecksumValid(view, off, len, ipLen, v6, PROTO_TCP)) return this.single(tag, off, len, true);
    const seq = view.getUint32(t + 4);
    const f = this.find(tag, off, v6);
    if (f !== undefined) {
      if (this.canAppend(f, off, len, hdrLen, payload, seq)) {
        f.segOff[f.count] = off + hdrLen;
        f.segLen[f.count] = payload;
        f.count++;
        f.nextSeq = (f.nextSeq + payload) >>> 0;
        f.total += payload;
        if (payload < f.mss || flags & TCP_PSH) f.closed = true;
        if (flags & TCP_PSH) f.psh = true;
        return;
      }
      this.write(f);
    }
    const n = this.slot();
    n.tag = tag;
    n.off = off;
    n.len = len;
    n.v6 = v6;
    n.ipLen = ipLen;
    n.hdrLen = hdrLen;
    n.mss = payload;
    n.nextSeq = (seq + payload) >>> 0;
    n.total = len;
    n.closed = (flags & TCP_PSH) !== 0;
    n.psh = n.closed;
    n.count = 1;
    n.segOff[0] = off + hdrLen;
    n.segLen[0] = payload;
  }

  /** Writes every flow held. */
  flush(): void {
    for (const f of this.flows) if (f.tag >= 0) this.write(f);
    this.live = 0;
  }

  // Same tunnel, same addresses and ports: the same flow.
  private find(tag: number, off: number, v6: boolean): Flow | undefined {
    const view = this.view;
    const words = v6 ? 8 : 2; // addresses, as 32-bit words
    for (const f of this.flows) {
      if (f.tag !== tag || f.v6 !== v6) continue;
      const a = v6 ? 8 : 12;
      let same = view.getUint32(f.off + f.ipLen) === view.getUint32(off + (v6 ? 40 : 20)); // the ports
      for (let w = 0; same && w < words; w++) same = view.getUint32(f.off + a + w * 4) === view.getUint32(off + a + w * 4);
      if (same) return f;
    }
    return undefined;
  }

  private canAppend(f: Flow, off: number, len: number, hdrLen: number, payload: number, seq: number): boolean {
    if (f.closed || f.count === MAX_SEGMENTS || hdrLen !== f.hdrLen || seq !== f.nextSeq || payload > f.mss) return false;
    if (f.total + payload > MAX_IP_LENGTH) return false;
    const view = this.view;
    const ft = f.off + f.ipLen;
    const t = off + f.ipLen;
    if (view.getUint32(t + 8) !== view.getUint32(ft + 8)) return false; // ACK number
    if (((view.getUint32(t + 12) ^ view.getUint32(ft + 12)) & 0xfff7ffff) !== 0) return false; // offset, flags but PSH, window
    for (let i = 20; i < hdrLen - f.ipLen; i += 4) if (view.getUint32(t + i) !== view.getUint32(ft + i)) return false; // options
    if (f.v6) {
      // Traffic class and flow label; hop limit.
      return view.getUint32(off) === view.getUint32(f.off) && this.u8[off + 7] === this.u8[f.off + 7];
    }
    // TOS; DF and the reserved bit; TTL.
    return this.u8[off + 1] === this.u8[f.off + 1] && (this.u8[off + 6] & 0xe0) === (this.u8[f.off + 6] & 0xe0) && this.u8[off + 8] === this.u8[f.off + 8];
  }

  private slot(): Flow {
    for (const f of this.flows) if (f.tag < 0) return f;
    // All in use: the next in turn goes out first.
    const f = this.flows[this.live++ % this.flows.length];
    this.write(f);
    return f;
  }

  private single(tag: number, off: number, len: number, tcp: boolean): void {
    // A segment of a flow held here must not overtake it.
    if (tcp) {
      const f = this.find(tag, off, this.u8[off] >> 4 === 6);
      if (f) this.write(f);
    }
    writePlainVnetHeader(this.view, off - VNET_HDR_BYTES);
    this.emit(tag, off - VNET_HDR_BYTES, len + VNET_HDR_BYTES);
  }

  private write(f: Flow): void {
    const tag = f.tag;
    f.tag = -1;
    if (f.count === 1) {
      writePlainVnetHeader(this.view, f.off - VNET_HDR_BYTES);
      this.emit(tag, f.off - VNET_HDR_BYTES, f.len + VNET_HDR_BYTES);
      return;
    }
    const u8 = this.u8;
    const view = this.view;
    const o = this.outOff + VNET_HDR_BYTES;
    u8.copyWithin(o, f.off, f.off + f.hdrLen);
    let at = o + f.hdrLen;
    for (let i = 0; i < f.count; i++) {
      u8.copyWithin(at, f.segOff[i], f.segOff[i] + f.segLen[i]);
      at += f.segLen[i];
    }
    const total = at - o;
    const t = o + f.ipLen;
    if (f.psh) u8[t + 13] |= TCP_PSH;
    if (f.v6) view.setUint16(o + 4, total - 40);
    else {
      view.setUint16(o + 2, total);
      view.setUint16(o + 10, 0);
      view.setUint16(o + 10, checksum(sumBytes(view, o, 20)));
    }
    // A partial checksum: the pseudo-header's sum, for the kernel to finish (NEEDS_CSUM).
    view.setUint16(t + 16, fold(pseudoHeaderSum(view, o + (f.v6 ? 8 : 12), f.v6 ? 16 : 4, PROTO_TCP, total - f.ipLen)));
    writeVnetHeader(view, this.outOff, VNET_F_NEEDS_CSUM, f.v6 ? GSO_TCPV6 : GSO_TCPV4, f.hdrLen, f.mss, f.ipLen, 16);
    this.joined += f.count - 1;
    this.superPackets++;
    this.emit(tag, this.outOff, total + VNET_HDR_BYTES);
  }
}
