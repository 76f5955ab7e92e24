// The relay link between proxies: one UDP datagram per frame, authenticated
// with HMAC-SHA256 under the key all sites share. A frame carries one SSDP
// message (an M-SEARCH, a reply to one, or a NOTIFY) unchanged, or one mDNS
// message (a query or a response, as the record filter left it).
//
//   0  "SR"  version(1)  type(1)  hops(1)  flags(1)  payloadLength(2)
//   8  timestamp, ms since the epoch (8)
//  16  message id (8): unique per message; replay and loop detection
//  24  request id (8): the search a reply answers (= message id for a search)
//  32  sender: the relay address of the proxy that sent this datagram (4 or 16)
//  ..  recipient: the relay address it was sent to (as many bytes as the sender)
//  ..  origin: the address of the proxy where the message entered (4 or 16)
//  ..  payload (the SSDP or mDNS message)
//  ..  HMAC-SHA256 over everything before it (32)
//
// flags: bit 0 sender and recipient are IPv6, bit 1 origin is IPv6, bit 2 the
// message is for the IPv6 group (mDNS: ff02::fb; SSDP says so in its HOST
// header); the others are 0.
//
// Sender and recipient are under the MAC, so a frame is good for one hop only:
// captured and sent back to its sender, or on to another site, it names the
// wrong pair and is refused ("reflected"); the replay window alone cannot see
// that, as the sender never received the frame it sent.
import crypto from 'node:crypto';
import { InputError } from '../lib/input-error';
import { formatIPv4, formatIPv6, isIPv4, parseIPv4, parseIPv6 } from '../lib/ip';
import { MAX_DNS_BYTES } from './dns';
import { MAX_SSDP_BYTES } from './message';

/** 2: sender and recipient (1 had neither; a version-1 peer's frames are dropped as `version`). */
export const FRAME_VERSION = 2;
const MAGIC0 = 0x53; // 'S'
const MAGIC1 = 0x52; // 'R'
const HEADER_BYTES = 32;
const MAC_BYTES = 32;
const LINK_V6 = 0x01;
const ORIGIN_V6 = 0x02;
const GROUP_V6 = 0x04;
const KNOWN_FLAGS = LINK_V6 | ORIGIN_V6 | GROUP_V6;
/** The largest payload: an mDNS message (RFC 6762 s17) is larger than any SSDP message we take. */
export const MAX_PAYLOAD_BYTES = Math.max(MAX_SSDP_BYTES, MAX_DNS_BYTES);

export type FrameType = 'search' | 'reply' | 'notify' | 'mdns';
const TYPES: FrameType[] = ['search', 'reply', 'notify', 'mdns'];

export interface Frame {
  type: FrameType;
  hops: number;
  timestamp: number;
  /** 16 hex digits */
  id: string;
  requestId: string;
  /** The relay address this datagram is sent from, and the one it is sent to (the same family). */
  sender: string;
  recipient: string;
  origin: string;
  /** For the IPv6 group (an mDNS message from ff02::fb, for ff02::fb); absent: false. */
  ipv6?: boolean;
  payload: Buffer;
}

export class FrameError extends InputError {
  name = 'FrameError';
  /** A counter name: "malformed", "version", "auth". */
  constructor(
    readonly reason: 'malformed' | 'version' | 'auth',
    message: string,
  ) {
    super(message);
  }
}

export function newMessageId(): string {
  return crypto.randomBytes(8).toString('hex');
}

const addressBytes = (a: string): Uint8Array => (isIPv4(a) ? parseIPv4(a) : parseIPv6(a));

export function encodingLength(f: Frame): number {
  const link = isIPv4(f.sender) ? 4 : 16;
  return HEADER_BYTES + 2 * link + (isIPv4(f.origin) ? 4 : 16) + f.payload.length + MAC_BYTES;
}

export function encodeFrame(f: Frame, key: Buffer): Buffer {
  if (f.payload.length > MAX_PAYLOAD_BYTES) throw new RangeError(`payload of ${f.payload.length} bytes, at most ${MAX_PAYLOAD_BYTES}`);
  if (!Number.isInteger(f.hops) || f.hops < 0 || f.hops > 255) throw new RangeError(`hops ${f.hops} out of range 0..255`);
  const sender = addressBytes(f.sender);
  const recipient = addressBytes(f.recipient);
  if (sender.length !== recipient.length) throw new RangeError(`sender ${f.sender} and recipient ${f.recipient} are of different families`);
  const origin = addressBytes(f.origin);
  const out = Buffer.alloc(encodingLength(f));
  out[0] = MAGIC0;
  out[1] = MAGIC1;
  out[2] = FRAME_VERSION;
  out[3] = TYPES.indexOf(f.type) + 1;
  out[4] = f.hops;
  out[5] = (sender.length === 16 ? LINK_V6 : 0) | (origin.length === 16 ? ORIGIN_V6 : 0) | (f.ipv6 ? GROUP_V6 : 0);
  out.writeUInt16BE(f.payload.length, 6);
  out.writeBigUInt64BE(BigInt(Math.floor(f.timestamp)), 8);
  out.write(f.id, 16, 8, 'hex');
  out.write(f.requestId, 24, 8, 'hex');
  let at = HEADER_BYTES;
  for (const a of [sender, recipient, origin]) {
    out.set(a, at);
    at += a.length;
  }
  f.payload.copy(out, at);
  const macAt = out.length - MAC_BYTES;
  crypto.createHmac('sha256', key).update(out.subarray(0, macAt)).digest().copy(out, macAt);
  return out;
}

const formatAddress = (b: Uint8Array): string => (b.length === 4 ? formatIPv4(b) : formatIPv6(b));

/** Checks the MAC before anything else is believed; throws FrameError. */
export function decodeFrame(buf: Buffer, key: Buffer): Frame {
  if (buf.length < HEADER_BYTES + 3 * 4 + MAC_BYTES) throw new FrameError('malformed', `${buf.length} bytes, shorter than any frame`);
  if (buf[0] !== MAGIC0 || buf[1] !== MAGIC1) throw new FrameError('malformed', 'not a relay frame (bad magic)');
  if (buf[2] !== FRAME_VERSION) throw new FrameError('version', `version ${buf[2]}, expected ${FRAME_VERSION}`);
  const flags = buf[5];
  if (flags & ~KNOWN_FLAGS) throw new FrameError('malformed', `unknown flags 0x${flags.toString(16)}`);
  const link = flags & LINK_V6 ? 16 : 4;
  const originBytes = flags & ORIGIN_V6 ? 16 : 4;
  const payloadLength = buf.readUInt16BE(6);
  const payloadAt = HEADER_BYTES + 2 * link + originBytes;
  if (payloadAt + payloadLength + MAC_BYTES !== buf.length) {
    throw new FrameError('malformed', `length ${buf.length} does not match a payload of ${payloadLength} bytes`);
  }
  const macAt = buf.length - MAC_BYTES;
  const want = crypto.createHmac('sha256', key).update(buf.subarray(0, macAt)).digest();
  if (!crypto.timingSafeEqual(want, buf.subarray(macAt))) throw new FrameError('auth', 'bad HMAC (wrong key or altered)');
  const type = TYPES[buf[3] - 1];
  if (!type) throw new FrameError('malformed', `unknown type ${buf[3]}`);
  const at = (from: number, n: number) => formatAddress(buf.subarray(from, from + n));
  const f: Frame = {
    type,
    hops: buf[4],
    timestamp: Number(buf.readBigUInt64BE(8)),
    id: buf.toString('hex', 16, 24),
    requestId: buf.toString('hex', 24, 32),
    sender: at(HEADER_BYTES, link),
    recipient: at(HEADER_BYTES + link, link),
    origin: at(HEADER_BYTES + 2 * link, originBytes),
    payload: Buffer.from(buf.subarray(payloadAt, macAt)),
  };
  if (flags & GROUP_V6) f.ipv6 = true;
  return f;
}

/**
 * Message ids seen recently: answers "first time?" for replay protection and
 * for NOTIFY loop suppression. Bounded: past `max` the oldest are forgotten.
 */
export class MessageIdCache {
  private seen = new Map<string, number>(); // id -> forget after (ms)
  constructor(
    private readonly ttlMs: number,
    private readonly max: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** True the first time an id is offered within the TTL; records it. */
  firstSighting(id: string, until = this.now() + this.ttlMs): boolean {
    this.expire();
    if (this.seen.has(id)) return false;
    if (this.seen.size >= this.max) this.seen.delete(this.seen.keys().next().value!);
    this.seen.set(id, until);
    return true;
  }

  expire(): void {
    const t = this.now();
    // Insertion order is close to expiry order; stop at the first live one.
    for (const [id, until] of this.seen) {
      if (until > t) break;
      this.seen.delete(id);
    }
  }

  get size(): number {
    return this.seen.size;
  }
}

export type ReplayVerdict = 'ok' | 'stale' | 'replay';

/**
 * A frame is accepted once, and only while its timestamp is within `windowMs`
 * of our clock: an old captured frame is stale, a fresh one sent twice is a replay.
 * Both run on the wall clock, on purpose: the timestamp is the sender's wall time,
 * and an id needs remembering exactly while a frame carrying it could still pass
 * as fresh, which is a statement about wall time too.
 */
export class ReplayGuard {
  private readonly ids: MessageIdCache;
  constructor(
    private readonly windowMs: number,
    max: number,
    private readonly now: () => number = Date.now,
  ) {
    // An id must be remembered as long as its timestamp is acceptable.
    this.ids = new MessageIdCache(2 * windowMs, max, now);
  }

  check(f: Pick<Frame, 'id' | 'timestamp'>): ReplayVerdict {
    if (Math.abs(this.now() - f.timestamp) > this.windowMs) return 'stale';
    return this.ids.firstSighting(f.id) ? 'ok' : 'replay';
  }
}
