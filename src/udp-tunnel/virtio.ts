// struct virtio_net_hdr (<linux/virtio_net.h>), the 10 bytes a tun device with
// IFF_VNET_HDR puts before each packet it hands over and expects before each
// packet it is given: what the kernel left for us to do (complete a checksum,
// cut a TCP super-packet into segments), or what we ask it to do. Host byte
// order (little-endian on both architectures; no TUNSETVNETBE here).
export const VNET_HDR_BYTES = 10;

export const VNET_F_NEEDS_CSUM = 1;
export const VNET_F_DATA_VALID = 2;
export const GSO_NONE = 0;
export const GSO_TCPV4 = 1;
export const GSO_UDP = 3;
export const GSO_TCPV6 = 4;
export const GSO_ECN = 0x80;

export interface VnetHeader {
  flags: number;
  gsoType: number;
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
}

export function readVnetHeader(view: DataView, off: number, into: VnetHeader): VnetHeader {
  into.flags = view.getUint8(off);
  into.gsoType = view.getUint8(off + 1);
  into.hdrLen = view.getUint16(off + 2, true);
  into.gsoSize = view.getUint16(off + 4, true);
  into.csumStart = view.getUint16(off + 6, true);
  into.csumOffset = view.getUint16(off + 8, true);
  return into;
}

export function writeVnetHeader(view: DataView, off: number, flags: number, gsoType: number, hdrLen: number, gsoSize: number, csumStart: number, csumOffset: number): void {
  view.setUint8(off, flags);
  view.setUint8(off + 1, gsoType);
  view.setUint16(off + 2, hdrLen, true);
  view.setUint16(off + 4, gsoSize, true);
  view.setUint16(off + 6, csumStart, true);
  view.setUint16(off + 8, csumOffset, true);
}

/** A plain packet: nothing for the kernel to do. */
export function writePlainVnetHeader(view: DataView, off: number): void {
  view.setUint32(off, 0, true);
  view.setUint32(off + 4, 0, true);
  view.setUint16(off + 8, 0, true);
}
