// Properties of udp-proxy's JSON configuration (the Caddy plugin's words): ConfigError or
// rules the daemon can run; valid rules read back as written; mutated ones are refused or
// still runnable.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseJson } from '../../src/lib/config';
import { formatIPv4, formatIPv6, isIPv4Mapped, parseIPv4, parseIPv6 } from '../../src/lib/ip';
import { parseUdpProxyConfig, type UdpProxyConfig } from '../../src/udp-proxy/config';
import { formatEndpoint, parseEndpoint } from '../../src/udp-proxy/endpoint';
import { anyJsonText, fc, holds, ipv4Text, ipv6Text, mutatedText, refusedOrValid } from '../property';

const parse = (text: string) => parseUdpProxyConfig(parseJson(text, 'udp.json'), 'udp.json');
const port = fc.integer({ min: 1, max: 65535 });
const v6 = ipv6Text.filter((a) => !isIPv4Mapped(parseIPv6(a)));
const rule = fc.oneof(
  fc.record({ host: ipv4Text, port, aliases: fc.array(fc.tuple(ipv4Text, fc.option(port)), { maxLength: 3 }) }),
  fc.record({ host: v6, port, aliases: fc.array(fc.tuple(v6, fc.option(port)), { maxLength: 3 }) }),
).chain((r) =>
  fc.record(
    {
      listen: fc.constant(''),
      upstream: fc.constant(r.host.includes(':') ? `[${r.host}]:${r.port}` : `${r.host}:${r.port}`),
      'reply-addr-alias': fc.constant(r.aliases.map(([a, p]) => (p === null ? a : a.includes(':') ? `[${a}]:${p}` : `${a}:${p}`))),
      idleTimeout: fc.integer({ min: 1, max: 86400 }),
      maxSessions: fc.integer({ min: 1, max: 1_000_000 }),
      allow: fc.array(fc.tuple(ipv4Text, fc.nat(32)).map(([a, l]) => `${a}/${l}`), { maxLength: 3 }),
    },
    { requiredKeys: ['listen', 'upstream'], noNullPrototype: true },
  ),
);
const config = fc.array(rule, { minLength: 1, maxLength: 4 }).map((rules) => ({ proxy: rules.map((r, i) => ({ ...r, listen: `:${10000 + i}` })) }));

function runnable(c: UdpProxyConfig): void {
  assert.ok(c.rules.length >= 1);
  assert.is(new Set(c.rules.map((r) => r.name)).size, c.rules.length);
  for (const r of c.rules) {
    assert.ok(r.listen.port >= 1 && r.listen.port <= 65535 && r.upstream.port >= 1);
    assert.equal(parseEndpoint(formatEndpoint(r.upstream)), r.upstream);
    for (const a of r.aliases) assert.is(a.family, r.upstream.family);
    assert.ok(r.idleTimeoutMs >= 1000 && r.maxSessions >= 1);
  }
}

test('any file: ConfigError or rules the daemon can run', () => refusedOrValid(anyJsonText, parse, runnable));

test('valid rules read back as written', () => {
  holds(
    fc.property(config, (raw) => {
      const c = parse(JSON.stringify(raw));
      assert.is(c.rules.length, raw.proxy.length);
      c.rules.forEach((r, i) => {
        const w = raw.proxy[i];
        const host = (s: string) => (s.includes(':') ? formatIPv6(parseIPv6(s)) : formatIPv4(parseIPv4(s)));
        assert.is(formatEndpoint(r.upstream), formatEndpoint(parseEndpoint(w.upstream)));
        assert.equal(r.aliases.map((a) => host(a.address)), (w['reply-addr-alias'] ?? []).map((a) => host(parseEndpoint(a, { optionalPort: true }).address)));
        assert.is(r.idleTimeoutMs, (w.idleTimeout ?? 60) * 1000);
        assert.is(r.maxSessions, w.maxSessions ?? 4096);
        assert.is(r.allow.length, (w.allow ?? []).length);
      });
      runnable(c);
    }),
  );
});

test('mutated rules are refused or still runnable', () => refusedOrValid(mutatedText(config, JSON.stringify), parse, runnable));

test.run();
