import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AuthError, MAX_SKEW_MS, NonceCache, signMessage, verifyMessage } from '../../src/udp-tunnel/control-auth';
import { deriveKeys } from '../../src/udp-tunnel/keys';

const keys = deriveKeys('correct horse battery staple\n');
const other = deriveKeys('another secret of enough bytes');
const T = 1_700_000_000_000;
const BODY = '{"op":"list"}';

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.instance(err, AuthError);
    return (err as AuthError).reason;
  }
  throw new Error('did not throw');
}

test('a signed message verifies and yields its body', () => {
  const v = verifyMessage(keys.control, signMessage(keys.control, BODY, T), T + 1000);
  assert.is(v.body, BODY);
  assert.is(v.ts, T);
  assert.match(v.nonce, /^[0-9a-f]{32}$/);
});

test('control and data keys differ; short secrets refused', () => {
  assert.not.equal(keys.control, keys.data);
  assert.throws(() => deriveKeys('short'), /at least 16 bytes/);
});

test('tampered body, timestamp, nonce or MAC: bad-mac', () => {
  const m = signMessage(keys.control, BODY, T);
  assert.is(reason(() => verifyMessage(keys.control, m.replace('list', 'lisT'), T)), 'bad-mac');
  assert.is(reason(() => verifyMessage(keys.control, m.replace(`UT1 ${T}`, `UT1 ${T + 1}`), T)), 'bad-mac');
  const [head, mac, body] = m.split('\n');
  const flipped = (mac[0] === '0' ? '1' : '0') + mac.slice(1);
  assert.is(reason(() => verifyMessage(keys.control, `${head}\n${flipped}\n${body}`, T)), 'bad-mac');
  assert.is(reason(() => verifyMessage(keys.control, `${head.slice(0, -1)}${head.endsWith('0') ? '1' : '0'}\n${mac}\n${body}`, T)), 'bad-mac');
});

test('wrong key: bad-mac', () => {
  assert.is(reason(() => verifyMessage(keys.control, signMessage(other.control, BODY, T), T)), 'bad-mac');
});

test('expired or from the future: expired', () => {
  const m = signMessage(keys.control, BODY, T);
  assert.is(reason(() => verifyMessage(keys.control, m, T + MAX_SKEW_MS + 1)), 'expired');
  assert.is(reason(() => verifyMessage(keys.control, m, T - MAX_SKEW_MS - 1)), 'expired');
  verifyMessage(keys.control, m, T + MAX_SKEW_MS);
});

test('malformed envelopes', () => {
  assert.is(reason(() => verifyMessage(keys.control, BODY, T)), 'malformed');
  assert.is(reason(() => verifyMessage(keys.control, 'UT1 x y\nz\n{}', T)), 'malformed');
});

test('nonce cache: a replay is refused, until the nonce could not pass the clock check anyway', () => {
  const c = new NonceCache();
  c.use('a'.repeat(32), T, T);
  assert.is(reason(() => c.use('a'.repeat(32), T, T + 10)), 'replayed');
  c.use('b'.repeat(32), T, T + 10);
  // Past the window the entry is forgotten (verifyMessage refuses the message as expired).
  c.use('a'.repeat(32), T + 2 * MAX_SKEW_MS + 1, T + 2 * MAX_SKEW_MS + 1);
  assert.is(c.size, 1);
});

test('nonce cache full: refuses rather than forgetting live nonces', () => {
  const c = new NonceCache(2);
  c.use('1', T, T);
  c.use('2', T, T);
  assert.is(reason(() => c.use('3', T, T)), 'busy');
  c.use('3', T + MAX_SKEW_MS + 1, T + MAX_SKEW_MS + 1);
});

test.run();
