// Properties of the shared parsers of file and network text: JSON (with our own error
// position), IP addresses and prefixes, interface names.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { interfaceName, jsonErrorOffset, parseJson } from '../../src/lib/config';
import { cidr, formatCidr, formatIPv4, formatIPv6, ipv4, ipv6, parseCidr, parseIPv4, parseIPv6 } from '../../src/lib/ip';
import { anyJsonText, anyText, decodeOrRefuse, fc, holds, ipv4Text, ipv6Text, mutate, mutations } from '../property';

test('parseJson: ConfigError or the value JSON.parse gives', () => {
  holds(
    fc.property(anyJsonText, (t) => {
      const v = decodeOrRefuse(() => parseJson(t, 'f'));
      if (v !== undefined) assert.equal(v, JSON.parse(t.charCodeAt(0) === 0xfeff ? t.slice(1) : t));
    }),
    2000,
  );
});

test('jsonErrorOffset finds an error exactly when JSON.parse does', () => {
  const nearJson = fc.tuple(fc.jsonValue({ maxDepth: 3 }), mutations).map(([v, m]) => mutate(Buffer.from(JSON.stringify(v)), m).toString('latin1'));
  holds(
    fc.property(fc.oneof(nearJson, anyJsonText), (t) => {
      let valid = true;
      try {
        JSON.parse(t);
      } catch {
        valid = false;
      }
      const at = jsonErrorOffset(t);
      assert.is(at === -1, valid, `offset ${at} for ${JSON.stringify(t)}`);
      if (!valid) assert.ok(at >= 0 && at <= t.length);
    }),
    2000,
  );
});

test('IP text: parse then format is the canonical form, and parses back the same', () => {
  holds(
    fc.property(ipv4Text, (t) => {
      assert.is(formatIPv4(parseIPv4(t)), ipv4(t, 'f'));
      assert.equal([...parseIPv4(formatIPv4(parseIPv4(t)))], [...parseIPv4(t)]);
    }),
  );
  holds(
    fc.property(ipv6Text, (t) => {
      const b = parseIPv6(t);
      assert.is(formatIPv6(b), ipv6(t, 'f'));
      assert.equal([...parseIPv6(formatIPv6(b))], [...b]);
    }),
    1000,
  );
});

test('any text as an address, prefix or interface name: InputError or a canonical value', () => {
  const text = fc.oneof(anyText, ipv6Text.chain((a) => fc.tuple(fc.constant(a), mutations)).map(([a, m]) => mutate(Buffer.from(a), m).toString('latin1')), fc.string({ maxLength: 50 }));
  holds(
    fc.property(text, fc.nat(140), (t, len) => {
      const v4 = decodeOrRefuse(() => parseIPv4(t));
      if (v4) assert.is(v4.length, 4);
      const v6 = decodeOrRefuse(() => parseIPv6(t));
      if (v6) assert.equal([...parseIPv6(formatIPv6(v6))], [...v6]);
      for (const p of [t, `${t}/${len}`]) {
        const c = decodeOrRefuse(() => cidr(p, 'f'));
        if (c) assert.equal(parseCidr(formatCidr(c)), c);
        decodeOrRefuse(() => parseCidr(p));
      }
      const name = decodeOrRefuse(() => interfaceName(t, 'f'));
      if (name !== undefined) assert.ok(Buffer.byteLength(name) <= 15 && !/[\s/:@]/.test(name));
    }),
    2000,
  );
});

test.run();
