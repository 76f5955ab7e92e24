import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { STALE_SESSION_AFTER_MS, HEADER_BYTES, newSession, Opener, OVERHEAD, REPLAY_WINDOW, ReplayWindow, Sealer, sessionStart, TYPE_DATA, TYPE_KEEPALIVE } from '../../src/udp-tunnel/aead';
import { deriveKeys } from '../../src/udp-tunnel/keys';

const key = deriveKeys('a shared secret for the tests').data;
const other = deriveKeys('some other secret entirely').data;
const T = 1_700_000_000_000;
const packet = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i === 0 ? 0x45 : i & 0xff)));

test('seal/open round trip, a full 1500-byte and a 65000-byte packet whole', () => {
  const s = new Sealer(key, T);
  const o = new Opener(key);
  for (const n of [20, 1500, 65000]) {
    const sealed = s.seal(TYPE_DATA, packet(n));
    assert.is(sealed.length, n + OVERHEAD);
    const r = o.open(sealed);
    assert.ok(r.ok);
    if (r.ok) {
      assert.is(r.type, TYPE_DATA);
      assert.equal(r.payload, packet(n));
    }
  }
});

test('keepalive: empty payload, its own type', () => {
  const r = new Opener(key).open(new Sealer(key, T).seal(TYPE_KEEPALIVE, Buffer.alloc(0)));
  assert.equal(r.ok && r.type, TYPE_KEEPALIVE);
});

test('the ciphertext is not the plaintext', () => {
  const sealed = new Sealer(key, T).seal(TYPE_DATA, packet(100));
  assert.not.equal(sealed.subarray(HEADER_BYTES, HEADER_BYTES + 100), packet(100));
});

test('forged: any flipped bit, wrong key, random junk', () => {
  const s = new Sealer(key, T);
  const sealed = s.seal(TYPE_DATA, packet(100));
  for (const at of [0, 5, 20, HEADER_BYTES + 3, sealed.length - 1]) {
    const o = new Opener(key);
    const bad = Buffer.from(sealed);
    bad[at] ^= 1;
    const r = o.open(bad);
    assert.not.ok(r.ok, `bit flip at ${at}`);
  }
  assert.equal(new Opener(key).open(new Sealer(other, T).seal(TYPE_DATA, packet(100))), { ok: false, reason: 'forged' });
  assert.equal(new Opener(key).open(Buffer.alloc(10)), { ok: false, reason: 'malformed' });
});

test('replayed: the same datagram twice; reordering within the window passes', () => {
  const s = new Sealer(key, T);
  const o = new Opener(key);
  const a = s.seal(TYPE_DATA, packet(40));
  const b = s.seal(TYPE_DATA, packet(40));
  const c = s.seal(TYPE_DATA, packet(40));
  assert.ok(o.open(c).ok);
  assert.ok(o.open(a).ok); // late, within the window
  assert.equal(o.open(a), { ok: false, reason: 'replayed' });
  assert.equal(o.open(c), { ok: false, reason: 'replayed' });
  assert.ok(o.open(b).ok);
});

test('a forged datagram does not advance the window or switch the session', () => {
  const s = new Sealer(key, T);
  const o = new Opener(key);
  assert.ok(o.open(s.seal(TYPE_DATA, packet(40))).ok);
  const forged = s.seal(TYPE_DATA, packet(40));
  forged.writeBigUInt64BE(1_000_000n, 17);
  assert.not.ok(o.open(forged).ok);
  assert.ok(o.open(s.seal(TYPE_DATA, packet(40))).ok);
});

test('a peer restart (later session) is taken; an older session is refused', () => {
  const o = new Opener(key);
  const old = new Sealer(key, T);
  const oldPacket = old.seal(TYPE_DATA, packet(40));
  const restarted = new Sealer(key, T + 5000);
  assert.ok(o.open(old.seal(TYPE_DATA, packet(40))).ok);
  assert.ok(o.open(restarted.seal(TYPE_DATA, packet(40))).ok);
  assert.equal(o.open(oldPacket), { ok: false, reason: 'stale-session' });
  assert.ok(o.open(restarted.seal(TYPE_DATA, packet(40))).ok);
});

test('an older session (clock set back) is taken only after the current one has been silent', () => {
  const o = new Opener(key);
  const current = new Sealer(key, T + 5000);
  const clockBack = new Sealer(key, T);
  assert.ok(o.open(current.seal(TYPE_DATA, packet(40)), T + 10_000).ok);
  assert.equal(o.open(clockBack.seal(TYPE_DATA, packet(40)), T + 10_000 + STALE_SESSION_AFTER_MS - 1), { ok: false, reason: 'stale-session' });
  assert.ok(o.open(clockBack.seal(TYPE_DATA, packet(40)), T + 10_000 + STALE_SESSION_AFTER_MS).ok);
  // ...and a forgery claiming an older session never is.
  assert.equal(o.open(new Sealer(other, T - 1).seal(TYPE_DATA, packet(40)), T + 10 * STALE_SESSION_AFTER_MS), { ok: false, reason: 'forged' });
});

test('sessions carry their start time and differ', () => {
  assert.is(sessionStart(newSession(T)), T);
  assert.not.equal(newSession(T), newSession(T));
});

test('replay window: too old, replayed, far jump clears', () => {
  const w = new ReplayWindow();
  assert.is(w.check(0), 'too-old');
  w.accept(1);
  assert.is(w.check(1), 'replayed');
  w.accept(REPLAY_WINDOW + 10);
  assert.is(w.check(5), 'too-old');
  assert.is(w.check(REPLAY_WINDOW + 9), 'ok');
  assert.is(w.check(REPLAY_WINDOW + 10), 'replayed');
  w.accept(REPLAY_WINDOW + 12);
  assert.is(w.check(REPLAY_WINDOW + 11), 'ok');
  w.accept(10 * REPLAY_WINDOW);
  assert.is(w.check(10 * REPLAY_WINDOW - 1), 'ok');
  // A slot reused by a later counter starts clear.
  w.accept(11 * REPLAY_WINDOW - 5);
  assert.is(w.check(11 * REPLAY_WINDOW - 6), 'ok');
});

test.run();
