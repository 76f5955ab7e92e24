// The keyed data plane: each datagram is
//
//   type (1) | session (16) | counter (8, big-endian) | ChaCha20-Poly1305(IP packet) | tag (16)
//
// with the 26-byte header as associated data. A session is one sender process:
// 6 bytes of its start time (ms) and 10 random bytes. Each session encrypts under
// its own key, HKDF(data key, session), and counts from 1, so no (key, nonce)
// pair repeats although every host shares one secret and restarts from 1.
// Receivers keep a replay window per peer session and take a new session only
// if it started later than the current one, so old captures stay dead; an
// older one (a peer restarted with its clock set back) only once the current
// session has been silent for STALE_SESSION_AFTER_MS.
import { createCipheriv, createDecipheriv, createSecretKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';

export const TYPE_DATA = 1;
export const TYPE_KEEPALIVE = 2;
export const HEADER_BYTES = 26;
export const TAG_BYTES = 16;
export const OVERHEAD = HEADER_BYTES + TAG_BYTES;
export const REPLAY_WINDOW = 2048;
export const STALE_SESSION_AFTER_MS = 60_000;

export function sessionKey(dataKey: Buffer, session: Uint8Array): KeyObject {
  return createSecretKey(Buffer.from(hkdfSync('sha256', dataKey, session, 'udp-tunnel session', 32)));
}

export function newSession(now: number): Buffer {
  const s = Buffer.alloc(16);
  s.writeUIntBE(Math.floor(now) % 2 ** 48, 0, 6);
  randomBytes(10).copy(s, 6);
  return s;
}

export function sessionStart(session: Uint8Array): number {
  return Buffer.from(session.buffer, session.byteOffset, 6).readUIntBE(0, 6);
}

// Counters stay below 2^53 (a number); written as two 32-bit halves, no BigInt
// on the per-packet path. The nonce buffer is reused: createCipheriv copies it.
const nonce = Buffer.alloc(12);
function nonceFor(counter: number): Buffer {
  nonce.writeUInt32BE(Math.floor(counter / 2 ** 32), 4);
  nonce.writeUInt32BE(counter >>> 0, 8);
  return nonce;
}

function writeCounter(out: Buffer, counter: number): void {
  out.writeUInt32BE(Math.floor(counter / 2 ** 32), 17);
  out.writeUInt32BE(counter >>> 0, 21);
}

/** Seals outgoing packets of this process's session. One sealer for all tunnels: the counter is the nonce. */
export class Sealer {
  private counter = 0;
  private readonly key: KeyObject;
  readonly session: Buffer;

  constructor(dataKey: Buffer, now: number, session = newSession(now)) {
    this.session = session;
    this.key = sessionKey(dataKey, session);
  }

  seal(type: number, payload: Uint8Array): Buffer {
    const counter = ++this.counter;
    const out = Buffer.allocUnsafe(HEADER_BYTES + payload.length + TAG_BYTES);
    out[0] = type;
    this.session.copy(out, 1);
    writeCounter(out, counter);
    const header = out.subarray(0, HEADER_BYTES);
    const c = createCipheriv('chacha20-poly1305', this.key, nonceFor(counter), { authTagLength: TAG_BYTES });
    c.setAAD(header, { plaintextLength: payload.length });
    const body = c.update(payload);
    body.copy(out, HEADER_BYTES);
    c.final();
    c.getAuthTag().copy(out, HEADER_BYTES + payload.length);
    return out;
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

  /** Records an authenticated counter (after check said 'ok'). */
  accept(counter: number): void {
    if (counter > this.top) {
      if (counter - this.top >= REPLAY_WINDOW) this.bits.fill(0);
      else for (let c = this.top + 1; c < counter; c++) this.clear(c % REPLAY_WINDOW);
      this.top = counter;
      this.clear(counter % REPLAY_WINDOW);
    }
    const i = counter % REPLAY_WINDOW;
    this.bits[i >>> 5] |= 1 << (i & 31);
  }

  private clear(i: number): void {
    this.bits[i >>> 5] &= ~(1 << (i & 31));
  }
}

export type OpenResult =
  | { ok: true; type: number; payload: Buffer }
  | { ok: false; reason: 'malformed' | 'forged' | 'replayed' | 'stale-session' };

/** Opens datagrams from one peer (one tunnel). */
export class Opener {
  private session?: Buffer;
  private sessionStart = -1;
  private key?: KeyObject;
  private window = new ReplayWindow();
  // The last candidate session's key: forged datagrams cost one HKDF, real ones none.
  private candidate?: { session: Buffer; key: KeyObject };
  private lastAccepted = 0;

  constructor(private readonly dataKey: Buffer) {}

  /** `now` is a monotonic clock (ms): it times the stale-session rule, which a wall-clock step must not void. */
  open(msg: Buffer, now = 0): OpenResult {
    if (msg.length < OVERHEAD || (msg[0] !== TYPE_DATA && msg[0] !== TYPE_KEEPALIVE)) return { ok: false, reason: 'malformed' };
    const session = msg.subarray(1, 17);
    const hi = msg.readUInt32BE(17);
    if (hi >= 2 ** 21) return { ok: false, reason: 'malformed' }; // past 2^53
    const counter = hi * 2 ** 32 + msg.readUInt32BE(21);
    if (counter === 0) return { ok: false, reason: 'malformed' };
    const current = this.session !== undefined && this.session.equals(session);
    let key: KeyObject;
    if (current) {
      const w = this.window.check(counter);
      if (w !== 'ok') return { ok: false, reason: 'replayed' };
      key = this.key!;
    } else {
      if (sessionStart(session) < this.sessionStart && now - this.lastAccepted < STALE_SESSION_AFTER_MS) {
        return { ok: false, reason: 'stale-session' };
      }
      if (!this.candidate || !this.candidate.session.equals(session)) {
        this.candidate = { session: Buffer.from(session), key: sessionKey(this.dataKey, session) };
      }
      key = this.candidate.key;
    }
    const header = msg.subarray(0, HEADER_BYTES);
    const end = msg.length - TAG_BYTES;
    let payload: Buffer;
    try {
      const d = createDecipheriv('chacha20-poly1305', key, nonceFor(counter), { authTagLength: TAG_BYTES });
      d.setAAD(header, { plaintextLength: end - HEADER_BYTES });
      d.setAuthTag(msg.subarray(end));
      payload = d.update(msg.subarray(HEADER_BYTES, end));
      d.final();
    } catch {
      return { ok: false, reason: 'forged' };
    }
    if (!current) {
      // Authentic and newer: the peer restarted. Start its window afresh.
      this.session = Buffer.from(session);
      this.sessionStart = sessionStart(session);
      this.key = key;
      this.window = new ReplayWindow();
      this.candidate = undefined;
    }
    this.window.accept(counter);
    this.lastAccepted = now;
    return { ok: true, type: msg[0], payload };
  }
}
