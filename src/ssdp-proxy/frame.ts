// The relay link between proxies: one UDP datagram per frame, authenticated
// with HMAC-SHA256 under the key all sites share. A frame carries one SSDP
// message (an M-SEARCH, a reply to one, or a NOTIFY) unchanged.
//
//   0  "SR"  version(1)  type(1)  hops(1)  originFamily(4|6)  payloadLength(2)
//   8  timestamp, ms since the epoch (8)
//  16  message id (8): unique per frame; replay and loop detection
//  24  request id (8): the search a reply answers (= message id for a search)
//  32  origin: the address of the proxy where the message entered (4 or 16)
//  ..  payload (the SSDP message)
//  ..  HMAC-SHA256 over everything before it (32)
import crypto from 'node:crypto';
import { InputError } from '../lib/input-error';
import { formatIPv4, formatIPv6, isIPv4, parseIPv4, parseIPv6 } from '../lib/ip';
import { MAX_SSDP_BYTES } from './message';

export const FRAME_VERSION = 1;
const MAGIC0 = 0x53; // 'S'
const MAGIC1 = 0x52; // 'R'
const HEADER_BYTES = 32;
const MAC_BYTES = 32;

export type FrameType = 'search' | 'reply' | 'notify';
const TYPES: FrameType[] = ['search', 'reply', 'notify'];

export interface Frame {
  type: FrameType;
  hops: number;
  timestamp: number;
  /** 16 hex digits */
  id: string;
  requestId: string;
  origin: string;
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

export function encodingLength(f: Frame): number {
  return HEADER_BYTES + (isIPv4(f.origin) ? 4 : 16) + f.payload.length + MAC_BYTES;
}

export function encodeFrame(f: Frame, key: Buffer): Buffer {
  if (f.payload.length > MAX_SSDP_BYTES) throw new RangeError(`payload of ${f.payload.length} bytes, at most ${MAX_SSDP_BYTES}`);
  if (!Number.isInteger(f.hops) || f.hops < 0 || f.hops > 255) throw new RangeError(`hops ${f.hops} out of range 0..255`);
  const origin = isIPv4(f.origin) ? parseIPv4(f.origin) : parseIPv6(f.origin);
  const out = Buffer.alloc(encodingLength(f));
  out[0] = MAGIC0;
  out[1] = MAGIC1;
  out[2] = FRAME_VERSION;
  out[3] = TYPES.indexOf(f.type) + 1;
  out[4] = f.hops;
  out[5] = origin.length === 4 ? 4 : 6;
  out.writeUInt16BE(f.payload.length, 6);
  out.writeBigUInt64BE(BigInt(Math.floor(f.timestamp)), 8);
  out.write(f.id, 16, 8, 'hex');
  out.write(f.requestId, 24, 8, 'hex');
  out.set(origin, HEADER_BYTES);
  f.payload.copy(out, HEADER_BYTES + origin.length);
  const macAt = out.length - MAC_BYTES;
  crypto.createHmac('sha256', key).update(out.subarray(0, macAt)).digest().copy(out, macAt);
  return out;
}

/** Checks the MAC before anything else is believed; throws FrameError. */
export function decodeFrame(buf: Buffer, key: Buffer): Frame {
  if (buf.length < HEADER_BYTES + 4 + MAC_BYTES) throw new FrameError('malformed', `${buf.length} bytes, shorter than any frame`);
  if (buf[0] !== MAGIC0 || buf[1] !== MAGIC1) throw new FrameError('malformed', 'not a relay frame (bad magic)');
  if (buf[2] !== FRAME_VERSION) throw new FrameError('version', `version ${buf[2]}, expected ${FRAME_VERSION}`);
  const originBytes = buf[5] === 4 ? 4 : buf[5] === 6 ? 16 : 0;
  if (!originBytes) throw new FrameError('malformed', `origin family ${buf[5]}`);
  const payloadLength = buf.readUInt16BE(6);
  if (HEADER_BYTES + originBytes + payloadLength + MAC_BYTES !== buf.length) {
    throw new FrameError('malformed', `length ${buf.length} does not match a payload of ${payloadLength} bytes`);
  }
  const macAt = buf.length - MAC_BYTES;
  const want = crypto.createHmac('sha256', key).update(buf.subarray(0, macAt)).digest();
  if (!crypto.timingSafeEqual(want, buf.subarray(macAt))) throw new FrameError('auth', 'bad HMAC (wrong key or altered)');
  const type = TYPES[buf[3] - 1];
  if (!type) throw new FrameError('malformed', `unknown type ${buf[3]}`);
  const o = buf.subarray(HEADER_BYTES, HEADER_BYTES + originBytes);
  return {
    type,
    hops: buf[4],
    timestamp: Number(buf.readBigUInt64BE(8)),
    id: buf.toString('hex', 16, 24),
    requestId: buf.toString('hex', 24, 32),
    origin: originBytes === 4 ? formatIPv4(o) : formatIPv6(o),
    payload: Buffer.from(buf.subarray(HEADER_BYTES + originBytes, macAt)),
  };
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
