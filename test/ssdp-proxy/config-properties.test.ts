// Properties of ssdp-proxy's JSON configuration: ConfigError or a configuration the daemon
// can run; a valid one reads back as written; a mutated one is refused or still runnable.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseJson } from '../../src/lib/config';
import { formatIPv6, isIPv4, isIPv6, parseIPv6 } from '../../src/lib/ip';
import { parseSsdpProxyConfig, type SsdpProxyConfig } from '../../src/ssdp-proxy/config';
import { compileFilter } from '../../src/ssdp-proxy/filter';
import { parseServiceType } from '../../src/ssdp-proxy/mdns-filter';
import { anyJsonText, fc, holds, ipv4Text, ipv6Text, mutatedText, refusedOrValid } from '../property';

const KEY = Buffer.alloc(32, 7);
const readKey = () => KEY;
const parse = (text: string) => parseSsdpProxyConfig(parseJson(text, 'ssdp.json'), 'ssdp.json', readKey);
const ifname = fc.stringMatching(/^[a-z][a-z0-9]{0,14}$/);
const peer = fc.oneof(ipv4Text, ipv6Text.filter((a) => !/^fe[89ab]/i.test(formatIPv6(parseIPv6(a))) && !formatIPv6(parseIPv6(a)).startsWith('::ffff:')));
const pattern = fc.string({ minLength: 1, maxLength: 40 });
const rule = fc.record({ allow: fc.array(pattern, { maxLength: 3 }), deny: fc.array(pattern, { maxLength: 3 }) }, { noNullPrototype: true });
const config = fc.record(
  {
    lans: fc.uniqueArray(ifname, { minLength: 1, maxLength: 3 }),
    peers: fc.uniqueArray(peer, { minLength: 1, maxLength: 4, selector: (p) => (isIPv4(p) ? p : formatIPv6(parseIPv6(p))) }),
    keyFile: fc.constant('/data/udm-proxies/ssdp.key'),
    hub: fc.boolean(),
    port: fc.integer({ min: 1, max: 65535 }),
    maxPending: fc.integer({ min: 1, max: 65536 }),
    maxPendingPerHost: fc.integer({ min: 1, max: 65536 }),
    filters: fc.record({ inbound: rule, outbound: rule }, { requiredKeys: [], noNullPrototype: true }),
    mdns: fc.oneof(
      fc.boolean(),
      fc.record(
        { services: fc.uniqueArray(fc.constantFrom('_airplay._tcp', '_ipp._tcp', '_googlecast._tcp', '_hap._udp'), { maxLength: 4 }), rate: fc.integer({ min: 1, max: 10000 }) },
        { requiredKeys: [], noNullPrototype: true },
      ),
    ),
  },
  { requiredKeys: ['lans', 'peers', 'keyFile'], noNullPrototype: true },
);

function runnable(c: SsdpProxyConfig): void {
  assert.ok(c.hub || c.lans.length > 0);
  assert.ok(c.peers.length > 0 && new Set(c.peers).size === c.peers.length);
  for (const p of c.peers) assert.ok(isIPv4(p) || (isIPv6(p) && formatIPv6(parseIPv6(p)) === p));
  assert.ok(c.port >= 1 && c.port <= 65535 && c.maxPending >= 1 && c.maxPendingPerHost >= 1);
  assert.ok(c.key.length >= 16);
  for (const r of [c.filters.inbound, c.filters.outbound]) compileFilter(r)('ssdp:all');
  if (c.mdns) {
    for (const s of c.mdns.services) parseServiceType(s);
    assert.ok(c.mdns.rate >= 1);
  }
}

test('any file: ConfigError or a configuration the daemon can run', () => refusedOrValid(anyJsonText, parse, runnable));

test('a valid configuration reads back as written', () => {
  holds(
    fc.property(config, (raw) => {
      const c = parse(JSON.stringify(raw));
      assert.equal(c.lans, raw.lans);
      assert.equal(c.peers, raw.peers.map((p) => (isIPv4(p) ? p : formatIPv6(parseIPv6(p)))));
      assert.is(c.hub, raw.hub ?? false);
      assert.is(c.port, raw.port ?? 1901);
      assert.is(c.maxPending, raw.maxPending ?? 1024);
      assert.is(c.maxPendingPerHost, raw.maxPendingPerHost ?? 64);
      assert.equal(JSON.parse(JSON.stringify(c.filters)), raw.filters ?? {});
      const m = raw.mdns;
      assert.equal(c.mdns, m === true ? { services: [], rate: 100 } : m ? { services: m.services ?? [], rate: m.rate ?? 100 } : undefined);
      runnable(c);
    }),
  );
});

test('a mutated configuration is refused or still runnable', () => refusedOrValid(mutatedText(config, JSON.stringify), parse, runnable));

test.run();
