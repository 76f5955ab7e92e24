// Properties of the relay frame codec, through its public functions only (encodeFrame,
// decodeFrame, ReplayGuard), so a change of the frame's fields changes only the arbitrary:
// FrameError or a frame for any datagram; encode then decode is the identity; any change to
// an authentic frame is refused, and a frame is accepted once within the window.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatIPv6, parseIPv6 } from '../../src/lib/ip';
import { decodeFrame, encodeFrame, FrameError, ReplayGuard, type Frame } from '../../src/ssdp-proxy/frame';
import { decodeOrRefuse, fc, holds, ipv4Text, ipv6Text, mutate, mutations, unchanged } from '../property';

const KEY = Buffer.from('0123456789abcdef0123456789abcdef');
const hex16 = fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => Buffer.from(b).toString('hex'));
const ipv6Canonical = ipv6Text.map((a) => formatIPv6(parseIPv6(a)));
const address = fc.oneof(ipv4Text, ipv6Canonical);
// Sender and recipient are the two ends of one relay link: of one family.
const link = fc.oneof(fc.tuple(ipv4Text, ipv4Text), fc.tuple(ipv6Canonical, ipv6Canonical));
const frame: fc.Arbitrary<Frame> = fc
  .record(
    {
      type: fc.constantFrom('search', 'reply', 'notify', 'mdns'),
      ipv6: fc.boolean(),
      hops: fc.nat(255),
      timestamp: fc.integer({ min: 0, max: 2 ** 50 }),
      id: hex16,
      requestId: hex16,
      link,
      origin: address,
      payload: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
    },
    { noNullPrototype: true },
  )
  .map(({ link: [sender, recipient], ipv6, ...f }) => ({ ...f, sender, recipient, ...(ipv6 ? { ipv6 } : {}) })) as fc.Arbitrary<Frame>;
const key = fc.uint8Array({ minLength: 16, maxLength: 64 }).map((b) => Buffer.from(b));

test('any datagram: FrameError or a frame, never another throw', () => {
  holds(fc.property(fc.uint8Array({ maxLength: 200 }), key, (b, k) => void decodeOrRefuse(() => decodeFrame(Buffer.from(b), k))), 2000);
});

test('encode then decode gives back the frame', () => {
  holds(fc.property(frame, key, (f, k) => assert.equal(decodeFrame(encodeFrame(f, k), k), f)), 1000);
});

test('any change to an authentic frame is refused', () => {
  holds(
    fc.property(frame, mutations, (f, edits) => {
      const buf = encodeFrame(f, KEY);
      const bad = mutate(buf, edits);
      if (unchanged(buf, bad)) return;
      try {
        decodeFrame(bad, KEY);
      } catch (err) {
        assert.instance(err, FrameError);
        return;
      }
      assert.unreachable('an altered frame was accepted');
    }),
    2000,
  );
});

test('a frame under another key is refused', () => {
  holds(
    fc.property(frame, key, key, (f, k1, k2) => {
      fc.pre(!k1.equals(k2));
      assert.throws(() => decodeFrame(encodeFrame(f, k1), k2), (e: unknown) => e instanceof FrameError && e.reason === 'auth');
    }),
  );
});

test('the replay guard takes a fresh frame once and a stale one never', () => {
  holds(
    fc.property(fc.array(fc.tuple(hex16, fc.integer({ min: -60_000, max: 60_000 })), { maxLength: 40 }), (seen) => {
      const now = 1_790_000_000_000;
      const guard = new ReplayGuard(30_000, 1000, () => now);
      const taken = new Set<string>();
      for (const [id, skew] of seen) {
        const v = guard.check({ id, timestamp: now + skew });
        if (Math.abs(skew) > 30_000) assert.is(v, 'stale');
        else {
          assert.is(v, taken.has(id) ? 'replay' : 'ok');
          taken.add(id);
        }
      }
    }),
  );
});

test.run();
