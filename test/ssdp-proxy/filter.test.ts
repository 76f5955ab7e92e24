import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileFilter, compilePattern } from '../../src/ssdp-proxy/filter';

test('patterns: case-insensitive, * for any run, everything else literal', () => {
  const p = compilePattern('urn:schemas-upnp-org:device:MediaServer:*');
  assert.ok(p.test('URN:schemas-upnp-org:device:mediaserver:1'));
  assert.not.ok(p.test('urn:schemas-upnp-org:device:MediaRenderer:1'));
  assert.ok(compilePattern('a.b').test('a.b'));
  assert.not.ok(compilePattern('a.b').test('axb'));
  assert.not.ok(compilePattern('ssdp:all').test('xssdp:all'));
});

test('no rule passes all; allow narrows; deny wins', () => {
  assert.ok(compileFilter(undefined)('anything'));
  const f = compileFilter({ allow: ['urn:schemas-upnp-org:*', 'ssdp:all'], deny: ['*:InternetGatewayDevice:*'] });
  assert.ok(f('ssdp:all'));
  assert.ok(f('urn:schemas-upnp-org:device:MediaServer:1'));
  assert.not.ok(f('urn:schemas-upnp-org:device:InternetGatewayDevice:1'));
  assert.not.ok(f('upnp:rootdevice'));
  assert.not.ok(compileFilter({ allow: [], deny: ['*'] })('x'));
});

test.run();
