// Neighbor Solicitation / Advertisement codec over whole Ethernet frames (what AF_PACKET
// hands us). decodeNdpFrame runs once per captured frame, so it reads bytes in place and
// returns subarray views into the frame rather than copies.
//
// The ICMPv6 checksum is verified (RFC 4861 s7.1.1, s7.1.2): the kernel drops an NS/NA whose
// checksum fails, so a frame it would not accept must not make us join a group either. The
// frames a packet socket would hand us with the checksum still pending (CHECKSUM_PARTIAL: only
// the pseudo-header sum in the field) are the gateway's own outgoing ones (ndppd's proxied
// NS/NA), and the BPF filter (bpf.ts) drops every outgoing frame before we see it. Linux itself
// computes NDP checksums in software (ndisc_send_skb, rawv6_push_pending_frames), so NDP that a
// LAN host sends arrives with its checksum complete.

import { InputError } from '../lib/input-error';
import { parseIPv6 } from '../lib/ip';
import { isSolicitedNodeGroup } from './solicited-node';

export type NdpErrorReason =
  | 'not-ndp' // not an NS/NA at all: ignore silently, do not count as malformed
  | 'truncated'
  | 'ip-version'
  | 'hop-limit'
  | 'checksum'
  | 'code'
  | 'length'
  | 'option'
  | 'target-multicast'
  | 'dad-destination'
  | 'dad-option'
  | 'solicited-multicast';

export class NdpError extends InputError {
  readonly reason: NdpErrorReason;
  constructor(reason: NdpErrorReason, message: string) {
    // No stack trace: this is a verdict on input data, thrown per bad or foreign frame, and
    // capturing a stack made each throw ~40x dearer than a whole decode.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
    this.name = 'NdpError';
    this.reason = reason;
  }
}

export interface NdpMessage {
  type: 'ns' | 'na';
  /** Views into the decoded frame: copy (slice) them to keep them past the next capture. */
  source: Uint8Array;
  destination: Uint8Array;
  target: Uint8Array;
  /** NS from the unspecified address: Duplicate Address Detection (RFC 4862 s5.4.2). */
  dad: boolean;
  /** NA flags (RFC 4861 s4.4); always false for an NS. */
  router: boolean;
  solicited: boolean;
  override: boolean;
  /** 802.1Q VLAN id when the frame carried a tag. */
  vlan?: number;
  /** Link-layer address options (RFC 4861 s4.6.1); 6 bytes on Ethernet (RFC 2464 s6). */
  sourceLinkLayer?: Uint8Array;
  targetLinkLayer?: Uint8Array;
}

const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100;
const IPV6_HEADER = 40;
const NH_HOP_BY_HOP = 0;
const NH_ICMPV6 = 58;
const TYPE_NS = 135;
const TYPE_NA = 136;
const NDP_MIN_LENGTH = 24; // type, code, checksum, reserved/flags, target (RFC 4861 s4.3, s4.4)
const OPT_SOURCE_LL = 1;
const OPT_TARGET_LL = 2;

function isUnspecified(b: Uint8Array, off: number): boolean {
  for (let i = 0; i < 16; i++) if (b[off + i] !== 0) return false;
  return true;
}

export function decodeNdpFrame(frame: Uint8Array): NdpMessage {
  if (frame.length < 14) {
    throw new NdpError('truncated', `frame is ${frame.length} bytes, shorter than the 14-byte Ethernet header`);
  }
  let ethertype = (frame[12] << 8) | frame[13];
  let ip = 14;
  let vlan: number | undefined;
  if (ethertype === ETHERTYPE_VLAN) {
    // IEEE 802.1Q: 2-byte TCI (VLAN id in the low 12 bits), then the real ethertype.
    if (frame.length < 18) throw new NdpError('truncated', `frame is ${frame.length} bytes, shorter than the 18-byte 802.1Q header`);
    vlan = ((frame[14] << 8) | frame[15]) & 0x0fff;
    ethertype = (frame[16] << 8) | frame[17];
    ip = 18;
  }
  if (ethertype !== ETHERTYPE_IPV6) {
    throw new NdpError('not-ndp', `ethertype 0x${ethertype.toString(16).padStart(4, '0')} is not IPv6 (0x86dd)`);
  }
  if (frame.length < ip + IPV6_HEADER) {
    throw new NdpError('truncated', `IPv6 header needs ${IPV6_HEADER} bytes at offset ${ip}, frame has ${frame.length - ip}`);
  }
  if (frame[ip] >> 4 !== 6) throw new NdpError('ip-version', `IP version is ${frame[ip] >> 4}, expected 6`);
  const payloadLength = (frame[ip + 4] << 8) | frame[ip + 5];
  // Ethernet pads short frames to 60 bytes, so trust the IPv6 payload length, not the frame end.
  const end = ip + IPV6_HEADER + payloadLength;
  if (end > frame.length) {
    throw new NdpError('truncated', `IPv6 payload length ${payloadLength} overruns the frame by ${end - frame.length} bytes`);
  }
  let nextHeader = frame[ip + 6];
  const hopLimit = frame[ip + 7];
  let icmp = ip + IPV6_HEADER;
  if (nextHeader === NH_HOP_BY_HOP) {
    // Hop-by-Hop is the only extension header we walk (RFC 8200 s4.3: length in 8-octet units,
    // not counting the first 8). RFC 6980 s5 forbids fragmented NDP, and nothing else is
    // expected in front of an NS/NA, so any other header means "not ours".
    if (icmp + 2 > end) throw new NdpError('truncated', `Hop-by-Hop header needs 2 bytes, payload has ${end - icmp}`);
    const hbhLength = (frame[icmp + 1] + 1) * 8;
    if (icmp + hbhLength > end) {
      throw new NdpError('truncated', `Hop-by-Hop header of ${hbhLength} bytes overruns the payload by ${icmp + hbhLength - end} bytes`);
    }
    nextHeader = frame[icmp];
    icmp += hbhLength;
  }
  if (nextHeader !== NH_ICMPV6) throw new NdpError('not-ndp', `next header ${nextHeader} is not ICMPv6 (58)`);
  const icmpLength = end - icmp;
  if (icmpLength < 1) throw new NdpError('length', 'ICMPv6 message is empty');
  const icmpType = frame[icmp];
  if (icmpType !== TYPE_NS && icmpType !== TYPE_NA) throw new NdpError('not-ndp', `ICMPv6 type ${icmpType} is not NS (135) or NA (136)`);
  const name = icmpType === TYPE_NS ? 'NS' : 'NA';

  // RFC 4861 s7.1.1 (NS) and s7.1.2 (NA), in the order the RFC lists them.
  // Hop limit 255 proves the sender is on-link: a router would have decremented it.
  if (hopLimit !== 255) throw new NdpError('hop-limit', `${name} hop limit is ${hopLimit}, must be 255`);
  const checksum = icmpv6Checksum(frame.subarray(ip + 8, ip + 24), frame.subarray(ip + 24, ip + 40), frame.subarray(icmp, end));
  if (checksum !== 0) {
    throw new NdpError('checksum', `${name} ICMPv6 checksum 0x${((frame[icmp + 2] << 8) | frame[icmp + 3]).toString(16).padStart(4, '0')} is wrong (RFC 4443 s2.3)`);
  }
  if (icmpLength < NDP_MIN_LENGTH) throw new NdpError('length', `${name} ICMPv6 length is ${icmpLength}, must be at least ${NDP_MIN_LENGTH}`);
  if (frame[icmp + 1] !== 0) throw new NdpError('code', `${name} ICMPv6 code is ${frame[icmp + 1]}, must be 0`);
  if (frame[icmp + 8] === 0xff) throw new NdpError('target-multicast', `${name} target address is multicast`);

  let sourceLinkLayer: Uint8Array | undefined;
  let targetLinkLayer: Uint8Array | undefined;
  for (let o = icmp + NDP_MIN_LENGTH; o < end; ) {
    if (o + 2 > end) throw new NdpError('option', `option at ICMPv6 offset ${o - icmp} has 1 byte, needs at least 2 (type, length)`);
    const optLength = frame[o + 1] * 8;
    // RFC 4861 s4.6: "Nodes MUST silently discard an ND packet that contains an option with length zero."
    if (optLength === 0) throw new NdpError('option', `option type ${frame[o]} at ICMPv6 offset ${o - icmp} has length 0`);
    if (o + optLength > end) {
      throw new NdpError('option', `option type ${frame[o]} at ICMPv6 offset ${o - icmp} is ${optLength} bytes, overruns the message by ${o + optLength - end}`);
    }
    // Unknown options are skipped (RFC 4861 s4.6: receivers MUST silently ignore them).
    if (frame[o] === OPT_SOURCE_LL) sourceLinkLayer = frame.subarray(o + 2, o + optLength);
    else if (frame[o] === OPT_TARGET_LL) targetLinkLayer = frame.subarray(o + 2, o + optLength);
    o += optLength;
  }

  const dad = icmpType === TYPE_NS && isUnspecified(frame, ip + 8);
  const destination = frame.subarray(ip + 24, ip + 40);
  let router = false;
  let solicited = false;
  let override = false;
  if (dad) {
    // RFC 4861 s7.1.1: from ::, the destination is a solicited-node group and there is no
    // source link-layer address option (nobody may cache a mapping for ::).
    if (!isSolicitedNodeGroup(destination)) throw new NdpError('dad-destination', 'DAD NS (source ::) is not sent to a solicited-node multicast group');
    if (sourceLinkLayer !== undefined) throw new NdpError('dad-option', 'DAD NS (source ::) carries a source link-layer address option');
  } else if (icmpType === TYPE_NA) {
    const flags = frame[icmp + 4];
    router = (flags & 0x80) !== 0;
    solicited = (flags & 0x40) !== 0;
    override = (flags & 0x20) !== 0;
    // RFC 4861 s7.1.2: a multicast NA answers nobody in particular, so it cannot be solicited.
    if (solicited && destination[0] === 0xff) throw new NdpError('solicited-multicast', 'NA to a multicast destination has the Solicited flag set');
  }

  const msg: NdpMessage = {
    type: icmpType === TYPE_NS ? 'ns' : 'na',
    source: frame.subarray(ip + 8, ip + 24),
    destination,
    target: frame.subarray(icmp + 8, icmp + 24),
    dad,
    router,
    solicited,
    override,
  };
  if (vlan !== undefined) msg.vlan = vlan;
  if (sourceLinkLayer !== undefined) msg.sourceLinkLayer = sourceLinkLayer;
  if (targetLinkLayer !== undefined) msg.targetLinkLayer = targetLinkLayer;
  return msg;
}

function sameAddress(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Addresses this message shows to be in use on the LAN: the target of an NA or NS (DAD or
 * not) and the source of a non-DAD NS. Views into the frame; the caller still filters them
 * by prefix and scope (address-filter.ts).
 */
export function learnableAddresses(msg: NdpMessage): Uint8Array[] {
  if (msg.type === 'na' || msg.dad || sameAddress(msg.source, msg.target)) return [msg.target];
  return [msg.target, msg.source];
}

// Encoders: build whole frames with a valid checksum, for tests, benchmarks and injection.

export type AddressInput = Uint8Array | string;

function toAddress(v: AddressInput, field: string): Uint8Array {
  if (typeof v === 'string') return parseIPv6(v);
  if (v.length !== 16) throw new Error(`${field} must be 16 bytes, got ${v.length}`);
  return v;
}

function toMac(v: Uint8Array | string, field: string): Uint8Array {
  if (typeof v !== 'string') {
    if (v.length !== 6) throw new Error(`${field} must be 6 bytes, got ${v.length}`);
    return v;
  }
  const parts = v.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) {
    throw new Error(`${field} ${JSON.stringify(v)} is not a MAC address like 52:54:00:12:34:56`);
  }
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}

/** RFC 4443 s2.3 checksum over the RFC 8200 s8.1 pseudo-header and the ICMPv6 message. */
export function icmpv6Checksum(source: Uint8Array, destination: Uint8Array, message: Uint8Array): number {
  let sum = NH_ICMPV6 + (message.length >>> 16) + (message.length & 0xffff);
  for (let i = 0; i < 16; i += 2) sum += ((source[i] << 8) | source[i + 1]) + ((destination[i] << 8) | destination[i + 1]);
  const even = message.length & ~1;
  for (let i = 0; i < even; i += 2) sum += (message[i] << 8) | message[i + 1];
  if (even !== message.length) sum += message[even] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

interface FrameInit {
  source: AddressInput;
  destination: AddressInput;
  target: AddressInput;
  srcMac: Uint8Array | string;
  /** Defaults to 33:33 + the low 32 bits of a multicast destination (RFC 2464 s7). */
  dstMac?: Uint8Array | string;
  /** Defaults to 255; set something else to build an invalid frame. */
  hopLimit?: number;
  /** Adds an 802.1Q tag with this VLAN id. */
  vlan?: number;
}

export interface NeighborSolicitationInit extends FrameInit {
  sourceLinkLayer?: Uint8Array | string;
}

export interface NeighborAdvertisementInit extends FrameInit {
  targetLinkLayer?: Uint8Array | string;
  router?: boolean;
  solicited?: boolean;
  override?: boolean;
}

function encodeFrame(init: FrameInit, icmpType: number, flags: number, optType: number, lladdr: Uint8Array | undefined): Uint8Array {
  const source = toAddress(init.source, 'source');
  const destination = toAddress(init.destination, 'destination');
  const target = toAddress(init.target, 'target');
  const srcMac = toMac(init.srcMac, 'srcMac');
  let dstMac: Uint8Array;
  if (init.dstMac !== undefined) dstMac = toMac(init.dstMac, 'dstMac');
  else if (destination[0] === 0xff) dstMac = Uint8Array.of(0x33, 0x33, destination[12], destination[13], destination[14], destination[15]);
  else throw new Error('dstMac is required for a unicast destination');

  const optLength = lladdr === undefined ? 0 : (Math.ceil((2 + lladdr.length) / 8) * 8);
  const icmpLength = NDP_MIN_LENGTH + optLength;
  const ip = init.vlan === undefined ? 14 : 18;
  const frame = new Uint8Array(ip + IPV6_HEADER + icmpLength);
  frame.set(dstMac, 0);
  frame.set(srcMac, 6);
  if (init.vlan !== undefined) {
    frame[12] = ETHERTYPE_VLAN >> 8;
    frame[13] = ETHERTYPE_VLAN & 0xff;
    frame[14] = (init.vlan >> 8) & 0x0f;
    frame[15] = init.vlan & 0xff;
  }
  frame[ip - 2] = ETHERTYPE_IPV6 >> 8;
  frame[ip - 1] = ETHERTYPE_IPV6 & 0xff;
  frame[ip] = 0x60;
  frame[ip + 4] = icmpLength >> 8;
  frame[ip + 5] = icmpLength & 0xff;
  frame[ip + 6] = NH_ICMPV6;
  frame[ip + 7] = init.hopLimit ?? 255;
  frame.set(source, ip + 8);
  frame.set(destination, ip + 24);
  const icmp = ip + IPV6_HEADER;
  frame[icmp] = icmpType;
  frame[icmp + 4] = flags;
  frame.set(target, icmp + 8);
  if (lladdr !== undefined) {
    frame[icmp + 24] = optType;
    frame[icmp + 25] = optLength / 8;
    frame.set(lladdr, icmp + 26);
  }
  const sum = icmpv6Checksum(source, destination, frame.subarray(icmp));
  frame[icmp + 2] = sum >> 8;
  frame[icmp + 3] = sum & 0xff;
  return frame;
}

export function encodeNeighborSolicitation(init: NeighborSolicitationInit): Uint8Array {
  const ll = init.sourceLinkLayer === undefined ? undefined : toMac(init.sourceLinkLayer, 'sourceLinkLayer');
  return encodeFrame(init, TYPE_NS, 0, OPT_SOURCE_LL, ll);
}

export function encodeNeighborAdvertisement(init: NeighborAdvertisementInit): Uint8Array {
  const ll = init.targetLinkLayer === undefined ? undefined : toMac(init.targetLinkLayer, 'targetLinkLayer');
  const flags = (init.router ? 0x80 : 0) | (init.solicited ? 0x40 : 0) | (init.override ? 0x20 : 0);
  return encodeFrame(init, TYPE_NA, flags, OPT_TARGET_LL, ll);
}
