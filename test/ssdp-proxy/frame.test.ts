import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeFrame, encodeFrame, encodingLength, MessageIdCache, ReplayGuard, type Frame } from '../../src/ssdp-proxy/frame';

const KEY = Buffer.from('0123456789abcdef0123456789abcdef');
const frame = (over: Partial<Frame> = {}): Frame => ({
  type: 'search',
  hops: 0,
  timestamp: 1_790_000_000_123,
  id: '0011223344556677',
  requestId: '0011223344556677',
  sender: '10.0.0.1',
  recipient: '10.0.0.2',
  origin: '10.0.0.1',
  payload: Buffer.from('M-SEARCH * HTTP/1.1\r\nST: ssdp:all\r\n\r\n'),
  ...over,
});

test('round-trips every type, both origin families and both link families', () => {
  for (const f of [frame(), frame({ type: 'reply', id: 'ffeeddccbbaa9988', hops: 1 }), frame({ type: 'notify', origin: '2001:db8::1', requestId: '0000000000000000' }), frame({ sender: 'fd00:ab::1', recipient: 'fd00:ab::2' }), frame({ type: 'mdns', ipv6: true, payload: Buffer.alloc(9000) })]) {
    const buf = encodeFrame(f, KEY);
    assert.is(buf.length, encodingLength(f));
    assert.equal(decodeFrame(buf, KEY), f);
  }
});

test('a tampered frame fails authentication, at any byte', () => {
  const buf = encodeFrame(frame(), KEY);
  // type, hops, timestamp, ids, sender, recipient, origin, payload, MAC
  for (const at of [3, 4, 9, 17, 25, 33, 37, 41, 48, buf.length - 1]) {
    const bad = Buffer.from(buf);
    bad[at] ^= 0x01;
    assert.throws(() => decodeFrame(bad, KEY), (e: any) => e.reason === 'auth' || e.reason === 'malformed', `byte ${at}`);
  }
  const payloadByte = Buffer.from(buf);
  payloadByte[48] ^= 0x20;
  assert.throws(() => decodeFrame(payloadByte, KEY), (e: any) => e.reason === 'auth');
});

test('the wrong key fails authentication', () => {
  const buf = encodeFrame(frame(), KEY);
  assert.throws(() => decodeFrame(buf, Buffer.from('another key of sixteen+ bytes')), (e: any) => e.reason === 'auth' && /bad HMAC/.test(e.message));
});

test('short, foreign, other-version and mis-sized datagrams are malformed', () => {
  const buf = encodeFrame(frame(), KEY);
  assert.throws(() => decodeFrame(buf.subarray(0, 20), KEY), (e: any) => e.reason === 'malformed' && /shorter/.test(e.message));
  assert.throws(() => decodeFrame(Buffer.concat([Buffer.from('M-SEARCH'), buf.subarray(8)]), KEY), (e: any) => e.reason === 'malformed');
  const v2 = Buffer.from(buf);
  v2[2] = 1; // a peer still on the frame without sender and recipient
  assert.throws(() => decodeFrame(v2, KEY), (e: any) => e.reason === 'version' && /version 1, expected 2/.test(e.message));
  const flags = Buffer.from(buf);
  flags[5] = 0x80;
  assert.throws(() => decodeFrame(flags, KEY), (e: any) => e.reason === 'malformed' && /flags/.test(e.message));
  assert.throws(() => encodeFrame(frame({ recipient: 'fd00::2' }), KEY), /different families/);
  assert.throws(() => decodeFrame(Buffer.concat([buf, Buffer.from([0])]), KEY), (e: any) => e.reason === 'malformed' && /length/.test(e.message));
  assert.throws(() => encodeFrame(frame({ payload: Buffer.alloc(9001) }), KEY), /at most 9000/);
});

test('replay guard: accepted once; replayed and stale frames refused', () => {
  const clock = { t: 1_000_000 };
  const g = new ReplayGuard(30_000, 100, () => clock.t);
  assert.is(g.check({ id: 'a', timestamp: clock.t }), 'ok');
  assert.is(g.check({ id: 'a', timestamp: clock.t }), 'replay');
  clock.t += 29_000;
  assert.is(g.check({ id: 'a', timestamp: clock.t - 29_000 }), 'replay'); // still within the window
  clock.t += 2_000;
  assert.is(g.check({ id: 'a', timestamp: clock.t - 31_000 }), 'stale'); // a capture played back later
  assert.is(g.check({ id: 'b', timestamp: clock.t + 31_000 }), 'stale'); // from the future
  assert.is(g.check({ id: 'b', timestamp: clock.t + 29_000 }), 'ok');
});

test('notify dedup: an id is seen once per TTL, and the cache is bounded', () => {
  const clock = { t: 0 };
  const c = new MessageIdCache(10_000, 3, () => clock.t);
  assert.ok(c.firstSighting('x'));
  assert.not.ok(c.firstSighting('x'));
  clock.t = 9_999;
  assert.not.ok(c.firstSighting('x'));
  clock.t = 10_000;
  assert.ok(c.firstSighting('x')); // forgotten after the TTL
  c.firstSighting('y');
  c.firstSighting('z');
  c.firstSighting('w'); // evicts the oldest, x
  assert.is(c.size, 3);
  assert.ok(c.firstSighting('x'));
});

test.run();
