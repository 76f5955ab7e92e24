import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseSsdpProxyConfig } from '../../src/ssdp-proxy/config';

const base = { lans: ['br0'], peers: ['10.0.0.2'], keyFile: '/k' };
const parse = (over: Record<string, unknown>) => parseSsdpProxyConfig({ ...base, ...over }, 'config', () => Buffer.alloc(32));

test('mdns: off unless asked for; true, or an object with services and a rate', () => {
  assert.is(parse({}).mdns, undefined);
  assert.is(parse({ mdns: false }).mdns, undefined);
  assert.equal(parse({ mdns: true }).mdns, { services: [], rate: 100 });
  assert.equal(parse({ mdns: { services: ['_airplay._tcp', '_ipp._tcp'] } }).mdns, { services: ['_airplay._tcp', '_ipp._tcp'], rate: 100 });
  assert.equal(parse({ mdns: { rate: 20 } }).mdns, { services: [], rate: 20 });
});

test('mdns: a bad value is refused naming the field and the rule', () => {
  assert.throws(() => parse({ mdns: 'yes' }), /mdns: /);
  assert.throws(() => parse({ mdns: { services: ['airplay'] } }), /mdns\.services\[0\].*service type like _airplay\._tcp/);
  assert.throws(() => parse({ mdns: { services: ['_ipp._tcp', '_IPP._tcp'] } }), /mdns\.services\[1\].*named twice/);
  assert.throws(() => parse({ mdns: { rate: 0 } }), /mdns\.rate/);
  assert.throws(() => parse({ mdns: { service: [] } }), /mdns.*service/);
});

test.run();
