// The keyed data plane: each datagram is
//
//   type (1) | session (16) | counter (8, big-endian) | ChaCha20-Poly1305(IP packet) | tag (16)
//
// with the 26-byte header as associated data. A session is one sender process:
// 6 bytes of its start time (ms), 4 bytes of its site (a random number the daemon
// keeps in its state file, so it outlives restarts) and 6 random bytes. The site
// is how a receiver finds the tunnel of a datagram that comes from an address it
// has not seen (the peer moved, or restarted behind a NAT that moved); it is only
// a hint, checked like every header byte by the tag. Each session encrypts under
// its own key, HKDF(data key, session), and counts from 1, so no (key, nonce)
// pair repeats although every host shares one secret and restarts from 1.
// Receivers keep a replay window per peer session and take a new session only
// if it started later than the current one, so old captures stay dead; an
// older one (a peer restarted with its clock set back) only once the current
// session has been silent for STALE_SESSION_AFTER_MS.
import { hkdfSync, randomBytes } from 'node:crypto';
import { allocBlock, type NativeBlock } from '../lib/native';
import { defaultEngine, type AeadEngine, type AeadKey } from './chacha';

export const TYPE_DATA = 1;
export const TYPE_KEEPALIVE = 2;
export const HEADER_BYTES = 26;
export const TAG_BYTES = 16;
export const OVERHEAD = HEADER_BYTES + TAG_BYTES;
export const REPLAY_WINDOW = 2048;
export const STALE_SESSION_AFTER_MS = 60_000;
const MAX_PACKET = 65536;

/** The session's key bytes: HKDF(data key, session). */
export function sessionKey(dataKey: Buffer, session: Uint8Array): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', dataKey, session, 'udp-tunnel session', 32));
}

export const SITE_AT = 7; // in the datagram: type (1), then the session's 6 bytes of start time

export function newSession(now: number, site?: number): Buffer {
  const s = Buffer.alloc(16);
  s.writeUIntBE(Math.floor(now) % 2 ** 48, 0, 6);
  randomBytes(10).copy(s, 6);
  if (site !== undefined) s.writeUInt32BE(site >>> 0, 6);
  return s;
}

/** The sender's site in a session (bytes 6..10). */
export function sessionSite(session: Uint8Array): number {
  return ((session[6] << 24) | (session[7] << 16) | (session[8] << 8) | session[9]) >>> 0;
}

/** A new site number: random, never 0 (0 means "not learned yet"). */
export function newSite(): number {
  return randomBytes(4).readUInt32BE(0) || 1;
}

export function sessionStart(session: Uint8Array): number {
  return Buffer.from(session.buffer, session.byteOffset, 6).readUIntBE(0, 6);
}

// Where seal() and open() copy a Buffer to work on it in place (keepalives,
// tests); the data path seals and opens in its own receive and send areas.
let scratch: NativeBlock | undefined;
function scratchBlock(): NativeBlock {
  return (scratch ??= allocBlock(MAX_PACKET + OVERHEAD));
}

/** Seals outgoing packets of this process's session. One sealer for all tunnels: the counter is the nonce. */
export class Sealer {
  private counter = 0;
  private readonly key: AeadKey;
  readonly session: Buffer;

  constructor(dataKey: Buffer, now: number, session: Buffer | number = newSession(now), readonly engine: AeadEngine = defaultEngine()) {
    if (typeof session === 'number') session = newSession(now, session);
    this.session = session;
    this.key = engine.key();
    this.key.setKey(sessionKey(dataKey, session));
  }

  /**
   * Seals in place: the packet is at off + HEADER_BYTES (len bytes); the header
   * goes at off and the tag after the packet. Returns the datagram's length.
   */
  sealInPlace(blk: NativeBlock, off: number, len: number, type: number): number {
    const counter = ++this.counter;
    const u8 = blk.u8;
    u8[off] = type;
    u8.set(this.session, off + 1);
    blk.view.setUint32(off + 17, Math.floor(counter / 2 ** 32));
    blk.view.setUint32(off + 21, counter >>> 0);
    this.key.seal(blk, counter, off, HEADER_BYTES, off + HEADER_BYTES, len, off + HEADER_BYTES + len);
    return HEADER_BYTES + len + TAG_BYTES;
  }

  seal(type: number, payload: Uint8Array): Buffer {
    const blk = scratchBlock();
    blk.u8.set(payload, HEADER_BYTES);
    const n = this.sealInPlace(blk, 0, payload.length, type);
    return Buffer.from(blk.u8.subarray(0, n));
  }

  free(): void {
    this.key.free();
  }
}

/** Sliding-window replay check (RFC 6479's idea, bitmap of REPLAY_WINDOW bits). */
export class ReplayWindow {
  private top = 0;
  private readonly bits = new Uint32Array(REPLAY_WINDOW / 32);

  /** 'ok', or why the counter must be refused. Does not record it. */
  check(counter: number): 'ok' | 'replayed' | 'too-old' {
    if (counter > this.top) return 'ok';
    if (counter <= 0 || this.top - counter >= REPLAY_WINDOW) return 'too-old';
    const i = counter % REPLAY_WINDOW;
    return this.bits[i >>> 5] & (1 << (i & 31)) ? 'replayed' : 'ok';
  }

  /** Records an authenticated counter (after check said 'ok'); true when it is the highest yet. */
  accept(counter: number): boolean {
    const highest = counter > this.top;
    if (highest) {
      if (counter - this.top >= REPLAY_WINDOW) this.bits.fill(0);
      else for (let c = this.top + 1; c < counter; c++) this.clear(c % REPLAY_WINDOW);
      this.top = counter;
      this.clear(counter % REPLAY_WINDOW);
    }
    const i = counter % REPLAY_WINDOW;
    this.bits[i >>> 5] |= 1 << (i & 31);
    return highest;
  }

  private clear(i: number): void {
    this.bits[i >>> 5] &= ~(1 << (i & 31));
  }
}

export type OpenResult =
  | { ok: true; type: number; payload: Buffer }
  | { ok: false; reason: 'malformed' | 'forged' | 'replayed' | 'stale-session' };

/** What openInPlace found: a type (> 0), or why not (< 0). */
export const OPEN_MALFORMED = -1;
export const OPEN_FORGED = -2;
export const OPEN_REPLAYED = -3;
export const OPEN_STALE_SESSION = -4;
const REASONS = { [OPEN_MALFORMED]: 'malformed', [OPEN_FORGED]: 'forged', [OPEN_REPLAYED]: 'replayed', [OPEN_STALE_SESSION]: 'stale-session' } as const;

/** Opens datagrams from one peer (one tunnel). */
export class Opener {
  private session?: Buffer;
  private sessionStart = -1;
  private key: AeadKey;
  private window = new ReplayWindow();
  // The last candidate session's key: forged datagrams cost one HKDF, real ones none.
  private candidateKey: AeadKey;
  private candidate?: Buffer;
  private lastAccepted = 0;
  /**
   * The last datagram opened was the newest yet: a higher counter than any
   * before in its session, or the first of a newer session. Only such a one
   * may move the tunnel's endpoint (an older one may be a delayed copy).
   */
  newest = false;

  constructor(
    private readonly dataKey: Buffer,
    readonly engine: AeadEngine = defaultEngine(),
  ) {
    this.key = engine.key();
    this.candidateKey = engine.key();
  }

  /**
   * Opens the datagram at off (len bytes) in place: the packet is then at
   * off + HEADER_BYTES, len - OVERHEAD bytes. Returns its type, or a negative
   * OPEN_* reason. `now` is a monotonic clock (ms): it times the stale-session
   * rule, which a wall-clock step must not void.
   */
  openInPlace(blk: NativeBlock, off: number, len: number, now = 0): number {
    const u8 = blk.u8;
    const type = u8[off];
    if (len < OVERHEAD || (type !== TYPE_DATA && type !== TYPE_KEEPALIVE)) return OPEN_MALFORMED;
    const hi = blk.view.getUint32(off + 17);
    if (hi >= 2 ** 21) return OPEN_MALFORMED; // past 2^53
    const counter = hi * 2 ** 32 + blk.view.getUint32(off + 21);
    if (counter === 0) return OPEN_MALFORMED;
    const current = this.session !== undefined && sameSession(this.session, u8, off + 1);
    this.newest = false;
    let key: AeadKey;
    if (current) {
      if (this.window.check(counter) !== 'ok') return OPEN_REPLAYED;
      key = this.key;
    } else {
      const session = u8.subarray(off + 1, off + 17);
      if (sessionStart(session) < this.sessionStart && now - this.lastAccepted < STALE_SESSION_AFTER_MS) return OPEN_STALE_SESSION;
      if (!this.candidate || !sameSession(this.candidate, u8, off + 1)) {
        this.candidate = Buffer.from(session);
        this.candidateKey.setKey(sessionKey(this.dataKey, session));
      }
      key = this.candidateKey;
    }
    const end = off + len - TAG_BYTES;
    if (!key.open(blk, counter, off, HEADER_BYTES, off + HEADER_BYTES, end - off - HEADER_BYTES, end)) return OPEN_FORGED;
    if (!current) {
      // Authentic and newer: the peer restarted. Start its window afresh.
      this.session = this.candidate!;
      this.sessionStart = sessionStart(this.session);
      this.candidateKey = this.key;
      this.key = key;
      this.window = new ReplayWindow();
      this.candidate = undefined;
    }
    this.newest = this.window.accept(counter);
    this.lastAccepted = now;
    return type;
  }

  open(msg: Uint8Array, now = 0): OpenResult {
    if (msg.length > MAX_PACKET + OVERHEAD) return { ok: false, reason: 'malformed' };
    const blk = scratchBlock();
    blk.u8.set(msg, 0);
    const r = this.openInPlace(blk, 0, msg.length, now);
    if (r < 0) return { ok: false, reason: REASONS[r as keyof typeof REASONS] };
    return { ok: true, type: r, payload: Buffer.from(blk.u8.subarray(HEADER_BYTES, msg.length - TAG_BYTES)) };
  }

  free(): void {
    this.key.free();
    this.candidateKey.free();
  }
}

function sameSession(session: Buffer, u8: Uint8Array, at: number): boolean {
  for (let i = 0; i < 16; i++) if (session[i] !== u8[at + i]) return false;
  return true;
}
