import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sockAddr } from '../../src/lib/sockaddr';
import { createReplyMatcher } from '../../src/udp-proxy/alias';
import { parseEndpoint, type Endpoint } from '../../src/udp-proxy/endpoint';

// The daemon passes a source as words; the tests write it as text.
function matcher(up: Endpoint, aliases: Endpoint[]) {
  const m = createReplyMatcher(up, aliases);
  return (address: string, port: number) => {
    const a = sockAddr(address, port);
    return m(a.w0, a.w1, a.w2, a.w3, port);
  };
}

test('reply matcher: upstream is 0, aliases 1.., anyone else -1', () => {
  const m = matcher(parseEndpoint('10.0.0.254:53'), [
    parseEndpoint('10.0.0.253:53', { optionalPort: true }),
    parseEndpoint('10.0.0.252', { optionalPort: true }),
  ]);
  assert.is(m('10.0.0.254', 53), 0);
  assert.is(m('10.0.0.254', 54), -1, 'the upstream address from another port is not the upstream');
  assert.is(m('10.0.0.253', 53), 1);
  assert.is(m('10.0.0.253', 5353), -1, 'an alias with a port matches that port only');
  assert.is(m('10.0.0.252', 1), 2, 'an alias without a port matches any port');
  assert.is(m('10.0.0.252', 65535), 2);
  assert.is(m('10.0.0.251', 53), -1);
  assert.is(m('::ffff:10.0.0.254', 53), 0, 'an address and its IPv4-mapped form are one');
  assert.is(m('2001:db8::254', 53), -1);
});

test('reply matcher prefers an alias with the exact port over one without', () => {
  const m = matcher(parseEndpoint('[2001:db8::1]:53'), [
    parseEndpoint('2001:db8::2', { optionalPort: true }),
    parseEndpoint('[2001:db8::2]:53', { optionalPort: true }),
  ]);
  assert.is(m('2001:db8::2', 53), 2);
  assert.is(m('2001:db8::2', 54), 1);
  assert.is(m('2001:db8::1', 53), 0);
});

test.run();
