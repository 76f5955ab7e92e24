// The two ChaCha20-Poly1305 engines agree byte for byte, and either opens what
// the other sealed.
import { randomBytes } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { allocBlock } from '../../src/lib/native';
import { evpEngine, nodeCryptoEngine } from '../../src/udp-tunnel/chacha';
import { Opener, Sealer, TYPE_DATA } from '../../src/udp-tunnel/aead';

const evp = evpEngine();

test('the running Node exports OpenSSL: the EVP engine loads', () => {
  assert.ok(evp, 'EVP_chacha20_poly1305 and kin found in the executable');
});

test("both engines seal RFC 8439 s2.8.2's plaintext to the same bytes, at counters past 2^32", () => {
  const key = Buffer.from('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f', 'hex');
  const aad = Buffer.from('50515253c0c1c2c3c4c5c6c7', 'hex');
  const pt = Buffer.from("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.");
  // Its nonce (07000000 4041424344454647) is not of our form (00000000 || counter):
  // the engines are checked against each other, node:crypto being the reference.
  for (const counter of [1, 2 ** 32 + 5, 2 ** 52]) {
    const out: Buffer[] = [];
    for (const engine of [nodeCryptoEngine, evp!]) {
      const blk = allocBlock(512);
      blk.u8.set(aad, 0);
      blk.u8.set(pt, 64);
      const k = engine.key();
      k.setKey(key);
      k.seal(blk, counter, 0, aad.length, 64, pt.length, 64 + pt.length);
      out.push(Buffer.from(blk.u8.subarray(64, 64 + pt.length + 16)));
      k.free();
      blk.free();
    }
    assert.equal(out[0], out[1], `counter ${counter}`);
  }
});

test('sealed by one engine, opened by the other; a flipped bit is refused by both', () => {
  const dataKey = randomBytes(32);
  for (const [a, b] of [[nodeCryptoEngine, evp!], [evp!, nodeCryptoEngine]]) {
    const sealer = new Sealer(dataKey, Date.now(), undefined, a);
    const opener = new Opener(dataKey, b);
    for (const n of [0, 1, 100, 1400, 9000]) {
      const p = randomBytes(n);
      const d = sealer.seal(TYPE_DATA, p);
      const r = opener.open(d, 0);
      assert.ok(r.ok && r.payload.equals(p), `${a.name} -> ${b.name}, ${n} bytes`);
      const bad = Buffer.from(sealer.seal(TYPE_DATA, p));
      bad[bad.length - 1 - (n % 16)] ^= 0x40;
      assert.equal(opener.open(bad, 0), { ok: false, reason: 'forged' });
    }
  }
});

test.run();
