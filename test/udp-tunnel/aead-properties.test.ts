// Properties of the keyed data plane (datagrams from anyone on the underlay): open never
// throws, whatever arrives; seal then open gives the packet back, once; any change to a
// sealed datagram, or another key, is refused.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Opener, OVERHEAD, Sealer, TYPE_DATA, TYPE_KEEPALIVE } from '../../src/udp-tunnel/aead';
import { fc, holds, mutate, mutations, unchanged } from '../property';

const KEY = Buffer.alloc(32, 3);
const NOW = 1_790_000_000_000;
const packet = fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b));

test('any datagram: a verdict, never a throw', () => {
  const opener = new Opener(KEY);
  const headed = fc.tuple(fc.constantFrom(TYPE_DATA, TYPE_KEEPALIVE, 0, 3), fc.uint8Array({ maxLength: 200 })).map(([t, b]) => Buffer.from([t, ...b]));
  holds(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)), headed), (d) => {
      const r = opener.open(d, NOW);
      assert.is(r.ok, false);
    }),
    3000,
  );
});

test('seal then open gives the packet back once, in any order within the window', () => {
  holds(
    fc.property(fc.array(packet, { minLength: 1, maxLength: 20 }), fc.func(fc.integer()), (packets, order) => {
      const sealer = new Sealer(KEY, NOW);
      const opener = new Opener(KEY);
      const sealed = packets.map((p, i) => ({ i, d: sealer.seal(TYPE_DATA, p) }));
      sealed.sort((a, b) => order(a.i) - order(b.i) || a.i - b.i);
      for (const { i, d } of sealed) {
        assert.is(d.length, packets[i].length + OVERHEAD);
        const r = opener.open(d, NOW);
        assert.ok(r.ok && r.payload.equals(packets[i]) && r.type === TYPE_DATA);
        assert.equal(opener.open(d, NOW), { ok: false, reason: 'replayed' });
      }
    }),
    300,
  );
});

test('any change to a sealed datagram is refused', () => {
  holds(
    fc.property(packet, mutations, (p, edits) => {
      const d = new Sealer(KEY, NOW).seal(TYPE_DATA, p);
      const bad = mutate(d, edits);
      if (unchanged(d, bad)) return;
      assert.is(new Opener(KEY).open(bad, NOW).ok, false);
    }),
    2000,
  );
});

test('a datagram sealed under another key is refused as forged', () => {
  holds(
    fc.property(packet, fc.uint8Array({ minLength: 32, maxLength: 32 }), (p, k) => {
      fc.pre(!KEY.equals(Buffer.from(k)));
      assert.equal(new Opener(KEY).open(new Sealer(Buffer.from(k), NOW).seal(TYPE_DATA, p), NOW), { ok: false, reason: 'forged' });
    }),
    300,
  );
});

test.run();
