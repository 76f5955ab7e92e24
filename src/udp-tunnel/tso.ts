// The send side of the tun offloads: a tun device with IFF_VNET_HDR and
// TUNSETOFFLOAD(TSO4|TSO6|CSUM) hands over TCP super-packets of up to 64 KB
// (one read instead of ~45) and packets whose checksum it left for us. Here a
// super-packet is cut into MSS-sized packets, each a complete IP packet with
// its own headers and checksums, as a peer expects them on the wire (the wire
// format is one IP packet per datagram, as before). Pure: one buffer holds the
// super-packet and the segments (copyWithin moves bytes without allocating).
import { checksum, fold, pseudoHeaderSum, sumBytes } from '../lib/checksum';
import { GSO_TCPV4, GSO_TCPV6, type VnetHeader } from './virtio';

const TCP_FIN = 0x01;
const TCP_PSH = 0x08;
const TCP_CWR = 0x80;
const PROTO_TCP = 6;

/**
 * Completes a checksum the kernel left partial (VIRTIO_NET_HDR_F_NEEDS_CSUM,
 * not GSO): the sum from csumStart to the end, the pseudo-header value already
 * in the field included, folded and complemented, as the kernel's own
 * skb_checksum_help does. False when the offsets do not fit the packet.
 */
export function completeChecksum(view: DataView, pktOff: number, pktLen: number, csumStart: number, csumOffset: number): boolean {
  if (csumStart + csumOffset + 2 > pktLen) return false;
  const c = checksum(sumBytes(view, pktOff + csumStart, pktLen - csumStart));
  view.setUint16(pktOff + csumStart + csumOffset, c === 0 ? 0xffff : c);
  return true;
}

export interface Segments {
  count: number;
  /** Length of every segment but the last. */
  segBytes: number;
  lastBytes: number;
}

/**
 * Cuts the TCP super-packet at pktOff (pktLen bytes; GSO header hdr) into
 * segments of hdr.gsoSize payload bytes, segment i written at
 * dstOff + i * stride. Sequence numbers advance by the payload; the IPv4 ID by
 * one; FIN and PSH stay on the last segment only, CWR on the first only (as
 * the kernel's own segmentation does); every header and checksum is complete.
 * False (nothing written) when the packet is not one we can cut.
 */
export function splitTcpSuperPacket(u8: Uint8Array, view: DataView, pktOff: number, pktLen: number, hdr: VnetHeader, dstOff: number, stride: number, out: Segments): boolean {
  const gso = hdr.gsoType & 0x7f;
  if (gso !== GSO_TCPV4 && gso !== GSO_TCPV6) return false;
  const mss = hdr.gsoSize;
  const v6 = gso === GSO_TCPV6;
  const version = u8[pktOff] >> 4;
  if (version !== (v6 ? 6 : 4) || mss === 0) return false;
  // The TCP header starts where the kernel's checksum does.
  const ipLen = hdr.csumStart;
  if (ipLen < (v6 ? 40 : 20) || ipLen + 20 > pktLen) return false;
  if (!v6 && u8[pktOff + 9] !== PROTO_TCP) return false;
  if (v6 && ipLen === 40 && u8[pktOff + 6] !== PROTO_TCP) return false;
  const tcpLen = (u8[pktOff + ipLen + 12] >> 4) * 4;
  const hdrLen = ipLen + tcpLen;
  if (tcpLen < 20 || hdrLen > pktLen) return false;
  const payload = pktLen - hdrLen;
  const count = Math.max(1, Math.ceil(payload / mss));
  if (stride < hdrLen + Math.min(mss, payload)) return false;
  const seq = view.getUint32(pktOff + ipLen + 4);
  const flags = u8[pktOff + ipLen + 13];
  const id = v6 ? 0 : view.getUint16(pktOff + 4);
  const addrOff = v6 ? 8 : 12;
  const addrLen = v6 ? 16 : 4;
  for (let i = 0; i < count; i++) {
    const d = dstOff + i * stride;
    const chunk = i === count - 1 ? payload - i * mss : mss;
    u8.copyWithin(d, pktOff, pktOff + hdrLen);
    u8.copyWithin(d + hdrLen, pktOff + hdrLen + i * mss, pktOff + hdrLen + i * mss + chunk);
    if (v6) {
      view.setUint16(d + 4, hdrLen - 40 + chunk);
    } else {
      view.setUint16(d + 2, hdrLen + chunk);
      view.setUint16(d + 4, (id + i) & 0xffff);
      view.setUint16(d + 10, 0);
      view.setUint16(d + 10, checksum(sumBytes(view, d, ipLen)));
    }
    const t = d + ipLen;
    view.setUint32(t + 4, (seq + i * mss) >>> 0);
    let f = flags;
    if (i !== count - 1) f &= ~(TCP_FIN | TCP_PSH);
    if (i !== 0) f &= ~TCP_CWR;
    u8[t + 13] = f;
    view.setUint16(t + 16, 0);
    const sum = pseudoHeaderSum(view, d + addrOff, addrLen, PROTO_TCP, tcpLen + chunk);
    view.setUint16(t + 16, checksum(sumBytes(view, t, tcpLen + chunk, sum)));
  }
  out.count = count;
  out.segBytes = hdrLen + Math.min(mss, payload);
  out.lastBytes = hdrLen + (payload - (count - 1) * mss);
  return true;
}

/** Whether the TCP (or UDP) checksum of an IPv4 or IPv6 packet without extension headers holds. */
export function transportChecksumValid(view: DataView, pktOff: number, pktLen: number, ipLen: number, v6: boolean, protocol: number): boolean {
  const sum = pseudoHeaderSum(view, pktOff + (v6 ? 8 : 12), v6 ? 16 : 4, protocol, pktLen - ipLen);
  return fold(sumBytes(view, pktOff + ipLen, pktLen - ipLen, sum)) === 0xffff;
}
