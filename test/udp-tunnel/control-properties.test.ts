// Properties of udp-tunnel's control messages (UDP datagrams, from off localhost signed):
// the signed envelope and the JSON body each refuse with their typed error or decode; sign
// then verify and encode then decode give the input back; a mutated message is refused or
// decodes to what the daemon takes (the same signed body; specs that validate again as is).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AuthError, NonceCache, signMessage, verifyMessage } from '../../src/udp-tunnel/control-auth';
import { deriveKeys } from '../../src/udp-tunnel/keys';
import { decodeControlBody, encodeControlBody, tunnelSpec, type TunnelSpec } from '../../src/udp-tunnel/tunnel-spec';
import { anyJsonText, anyText, decodeOrRefuse, fc, holds, ipv4Text, mutate, mutations } from '../property';

const KEY = Buffer.alloc(32, 5);
const NOW = 1_790_000_000_000;
const unicast = ipv4Text.filter((a) => Number(a.split('.')[0]) > 0 && Number(a.split('.')[0]) < 224);
const spec: fc.Arbitrary<TunnelSpec> = fc.record(
  {
    name: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/),
    tunnelIP: unicast,
    netmask: fc.integer({ min: 1, max: 32 }).map((l) => [255, 255, 255, 255].map((_, i) => (0xff00 >> Math.max(0, Math.min(8, l - i * 8))) & 0xff).join('.')),
    mtu: fc.integer({ min: 68, max: 65000 }),
    remoteServer: unicast,
    routes: fc.uniqueArray(fc.tuple(unicast, fc.nat(32)).map(([a, l]) => `${a}/${l}`), { maxLength: 3 }),
  },
  { noNullPrototype: true },
).map((s) => tunnelSpec(s, 't')); // canonical routes (host bits cleared)

test('any text: AuthError or a verified body, never another throw', () => {
  holds(fc.property(fc.oneof(anyText, anyText.map((t) => `UT1 ${NOW} ${'0'.repeat(32)}\n${'a'.repeat(64)}\n${t}`)), (t) => void decodeOrRefuse(() => verifyMessage(KEY, t, NOW))), 2000);
});

test('sign then verify gives the body back; a nonce is taken once', () => {
  holds(
    fc.property(anyJsonText, fc.integer({ min: -30_000, max: 30_000 }), (body, skew) => {
      const v = verifyMessage(KEY, signMessage(KEY, body, NOW + skew), NOW);
      assert.is(v.body, body);
      const nonces = new NonceCache(8);
      nonces.use(v.nonce, v.ts, NOW);
      assert.throws(() => nonces.use(v.nonce, v.ts, NOW), (e: unknown) => e instanceof AuthError && e.reason === 'replayed');
    }),
  );
});

test('a mutated signed message is refused, or verifies to the very same body, time and nonce', () => {
  holds(
    fc.property(anyJsonText, mutations, (body, edits) => {
      const signed = signMessage(KEY, body, NOW, 'ab'.repeat(16));
      const v = decodeOrRefuse(() => verifyMessage(KEY, mutate(Buffer.from(signed), edits).toString('utf8'), NOW));
      if (v) assert.equal([v.body, v.ts, v.nonce], [body, NOW, 'ab'.repeat(16)]);
    }),
    2000,
  );
});

test('any body: ConfigError or a request, never another throw', () => {
  const shaped = fc.record({ op: fc.constantFrom('add', 'del', 'delete', 'list', 'x'), tunnel: fc.array(fc.dictionary(fc.constantFrom('name', 'tunnelIP', 'netmask', 'mtu', 'remoteServer', 'routes', 'route', 'x'), fc.jsonValue({ maxDepth: 2 })), { maxLength: 3 }) });
  holds(fc.property(fc.oneof(anyJsonText, shaped.map((o) => JSON.stringify(o))), (t) => void decodeOrRefuse(() => decodeControlBody(t))), 2000);
});

test('encode then decode gives back the request', () => {
  holds(
    fc.property(spec, (s) => {
      assert.equal(decodeControlBody(encodeControlBody('add', s)), { op: 'add', tunnels: [s] });
      assert.equal(decodeControlBody(encodeControlBody('del', { name: s.name })), { op: 'del', names: [s.name] });
    }),
  );
});

test('a mutated body is refused, or gives specs that validate again unchanged', () => {
  holds(
    fc.property(spec, fc.constantFrom('add', 'del') as fc.Arbitrary<'add' | 'del'>, mutations, (s, op, edits) => {
      const req = decodeOrRefuse(() => decodeControlBody(mutate(Buffer.from(encodeControlBody(op, s)), edits).toString('utf8')));
      if (req?.op === 'add') for (const t of req.tunnels) assert.equal(tunnelSpec(t, 't'), t);
    }),
    2000,
  );
});

test('any key file: InputError or two 32-byte keys', () => {
  holds(
    fc.property(anyText, (t) => {
      const k = decodeOrRefuse(() => deriveKeys(t));
      if (k) assert.ok(k.control.length === 32 && k.data.length === 32 && !k.control.equals(k.data));
    }),
    500,
  );
});

test.run();
