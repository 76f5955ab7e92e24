// Properties of mld-proxy's JSON configuration: any file is refused with ConfigError or
// gives a configuration the daemon can run; a valid one reads back as written.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseJson } from '../../src/lib/config';
import { formatCidr, parseCidr } from '../../src/lib/ip';
import { parseMldConfig, type MldProxyConfig } from '../../src/mld-proxy/config';
import { anyJsonText, fc, holds, ipv6Text, mutatedText, refusedOrValid } from '../property';

const ifname = fc.stringMatching(/^[a-z][a-z0-9]{0,14}$/);
const config = fc
  .record(
    {
      upstream: ifname,
      downstream: fc.uniqueArray(ifname, { minLength: 1, maxLength: 4 }),
      timeout: fc.integer({ min: 10, max: 7 * 86400 }),
      checkInterval: fc.integer({ min: 1, max: 3600 }),
      prefixes: fc.array(fc.tuple(ipv6Text, fc.nat(128)).map(([a, l]) => `${a}/${l}`), { maxLength: 3 }),
      maxAddresses: fc.integer({ min: 1, max: 1_000_000 }),
      state: fc.constant('/data/udm-proxies/mld-proxy/state.json'),
      logLevel: fc.constantFrom('debug', 'info', 'warn', 'error'),
    },
    { requiredKeys: ['upstream', 'downstream'], noNullPrototype: true },
  )
  .filter((c) => !c.downstream.includes(c.upstream) && (c.checkInterval ?? 30) <= (c.timeout ?? 1800));

function runnable(c: MldProxyConfig): void {
  const p = c.proxy;
  assert.ok(p.downstream.length > 0 && !p.downstream.includes(p.upstream));
  assert.is(new Set(p.downstream).size, p.downstream.length);
  assert.ok(p.checkIntervalMs > 0 && p.checkIntervalMs <= p.timeoutMs);
  assert.ok(Number.isInteger(p.maxAddresses) && p.maxAddresses >= 1);
  for (const x of p.prefixes) assert.equal(parseCidr(formatCidr(x)), x);
}

const parse = (t: string) => parseMldConfig(parseJson(t, 'mld.json'));

test('any file: ConfigError or a configuration the daemon can run', () => refusedOrValid(anyJsonText, parse, runnable));

test('a valid configuration reads back as written', () => {
  holds(
    fc.property(config, (raw) => {
      const c = parse(JSON.stringify(raw));
      assert.is(c.proxy.upstream, raw.upstream);
      assert.equal(c.proxy.downstream, raw.downstream);
      assert.is(c.proxy.timeoutMs, (raw.timeout ?? 1800) * 1000);
      assert.is(c.proxy.checkIntervalMs, (raw.checkInterval ?? 30) * 1000);
      assert.equal(c.proxy.prefixes.map(formatCidr), (raw.prefixes ?? []).map((p) => formatCidr(parseCidr(p))));
      assert.is(c.proxy.maxAddresses, raw.maxAddresses ?? 4096);
      assert.is(c.logLevel, raw.logLevel ?? 'info');
      runnable(c);
    }),
  );
});

test('a mutated configuration is refused or still runnable', () => refusedOrValid(mutatedText(config, JSON.stringify), parse, runnable));

test.run();
