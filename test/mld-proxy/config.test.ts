import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseMldConfig } from '../../src/mld-proxy/config';

const throwsWith = (raw: unknown, message: string) =>
  assert.throws(() => parseMldConfig(raw), (e: Error) => e.message === message, message);

test('defaults match the documentation', () => {
  const c = parseMldConfig({ upstream: 'eth9', downstream: ['br0'] });
  assert.equal(c.proxy, { upstream: 'eth9', downstream: ['br0'], timeoutMs: 1_800_000, checkIntervalMs: 30_000, prefixes: [], maxAddresses: 4096, stateFile: undefined });
  assert.is(c.logLevel, 'info');
  assert.is(c.controlSocket, '/run/mld-proxy.sock');
});

test('errors name the field and the reason', () => {
  throwsWith({ downstream: ['br0'] }, 'upstream: missing: name the WAN interface (e.g. eth9)');
  throwsWith({ upstream: 'eth9' }, 'downstream: missing: name at least one LAN interface (e.g. br0)');
  throwsWith({ upstream: 'eth9', downstream: ['eth9'] }, 'downstream: "eth9" is also the upstream interface');
  throwsWith({ upstream: 'eth9', downstream: ['br0', 'br0'] }, 'downstream: "br0" is named twice');
  throwsWith({ upstream: 'eth9', downstream: ['br0'], prefixes: ['10.0.0.0/8'] }, 'prefixes[0]: "10.0.0.0/8" is not an IPv6 prefix');
  throwsWith({ upstream: 'eth9', downstream: ['br0'], timeout: 20, checkInterval: 30 }, 'checkInterval: 30 is longer than timeout (20)');
  assert.throws(() => parseMldConfig({ upstream: 'eth9', downstream: ['br0'], timeoutt: 5 }), /timeoutt/);
  assert.throws(() => parseMldConfig({ upstream: 'eth9', downstream: ['br0'], prefixes: ['2001:db8::/129'] }), /prefixes\[0\].*129/);
});

test.run();
