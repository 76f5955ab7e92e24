// Control messages from off localhost carry an HMAC-SHA256 under the shared key:
//
//   "UT1 <unix ms> <nonce: 32 hex>\n<mac: 64 hex>\n<body>"
//
// The MAC covers "UT1 <ts> <nonce>\n<body>". The receiver refuses a bad MAC, a
// timestamp more than MAX_SKEW_MS away from its clock, and a nonce it has seen
// within that window (replay). The daemon's reply is signed the same way.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { InputError } from '../lib/input-error';

export const AUTH_MAGIC = 'UT1 ';
export const MAX_SKEW_MS = 30_000;
export const MAX_REMEMBERED_NONCES = 16_384;

export class AuthError extends InputError {
  name = 'AuthError';
  constructor(
    readonly reason: 'malformed' | 'bad-mac' | 'expired' | 'replayed' | 'busy',
    message: string,
  ) {
    super(message);
  }
}

function mac(key: Buffer, ts: number, nonce: string, body: string): string {
  return createHmac('sha256', key).update(`${AUTH_MAGIC}${ts} ${nonce}\n${body}`).digest('hex');
}

export function signMessage(key: Buffer, body: string, now: number, nonce = randomBytes(16).toString('hex')): string {
  return `${AUTH_MAGIC}${now} ${nonce}\n${mac(key, now, nonce, body)}\n${body}`;
}

export function isSigned(text: string): boolean {
  return text.startsWith(AUTH_MAGIC);
}

export interface Verified {
  body: string;
  ts: number;
  nonce: string;
}

/** Checks form, MAC and clock; the caller checks the nonce (NonceCache). */
export function verifyMessage(key: Buffer, text: string, now: number): Verified {
  const m = /^UT1 ([0-9]{1,16}) ([0-9a-f]{32})\n([0-9a-f]{64})\n/.exec(text);
  if (!m) throw new AuthError('malformed', 'not a signed control message');
  const ts = Number(m[1]);
  const body = text.slice(m[0].length);
  const want = Buffer.from(mac(key, ts, m[2], body), 'hex');
  if (!timingSafeEqual(want, Buffer.from(m[3], 'hex'))) throw new AuthError('bad-mac', 'bad MAC (wrong key or tampered message)');
  if (Math.abs(now - ts) > MAX_SKEW_MS) throw new AuthError('expired', `timestamp is ${Math.round((now - ts) / 1000)} s away from our clock (limit ${MAX_SKEW_MS / 1000} s)`);
  return { body, ts, nonce: m[2] };
}

/**
 * Nonces seen within the skew window. A nonce needs remembering only while its
 * timestamp would still pass the clock check; past that it is refused anyway.
 */
export class NonceCache {
  private seen = new Map<string, number>(); // nonce -> forget after (ms)

  constructor(private readonly max = MAX_REMEMBERED_NONCES) {}

  /** Throws AuthError('replayed') for a nonce seen before; otherwise remembers it. */
  use(nonce: string, ts: number, now: number): void {
    this.sweep(now);
    if (this.seen.has(nonce)) throw new AuthError('replayed', 'replayed message (nonce seen before)');
    // Full: refuse rather than forget a live nonce, which would allow its replay.
    if (this.seen.size >= this.max) throw new AuthError('busy', 'too many control messages; try again in a minute');
    this.seen.set(nonce, Math.max(ts, now) + MAX_SKEW_MS);
  }

  private sweep(now: number): void {
    // Insertion order is close to expiry order; stop at the first live entry.
    for (const [nonce, until] of this.seen) {
      if (until > now) break;
      this.seen.delete(nonce);
    }
  }

  get size(): number {
    return this.seen.size;
  }
}
