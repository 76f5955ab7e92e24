import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseCidr, parseIPv6 } from '../../src/lib/ip';
import { createAddressFilter } from '../../src/mld-proxy/address-filter';

const check = (filter: ReturnType<typeof createAddressFilter>, s: string) => filter(parseIPv6(s));

test('accepts addresses inside the configured prefixes', () => {
  const f = createAddressFilter(['2001:db8:1::/64', parseCidr('2001:db8:2::/48')]);
  assert.is(check(f, '2001:db8:1::1234:5678'), 'ok');
  assert.is(check(f, '2001:db8:1:0:ffff:ffff:ffff:ffff'), 'ok');
  assert.is(check(f, '2001:db8:2:abcd::1'), 'ok');
  assert.is(check(f, '2001:db8:1:1::1'), 'outside-prefix');
  assert.is(check(f, '2001:db8:3::1'), 'outside-prefix');
  assert.is(check(f, 'fd00::1'), 'outside-prefix');
});

test('scopes that are never solicited from the WAN are refused first', () => {
  // Even a catch-all prefix does not let these through.
  const f = createAddressFilter(['::/0']);
  assert.is(check(f, '::'), 'unspecified');
  assert.is(check(f, '::1'), 'loopback');
  assert.is(check(f, '::ffff:192.0.2.1'), 'ipv4-mapped');
  assert.is(check(f, 'ff02::1:ff00:1'), 'multicast');
  assert.is(check(f, 'ff05::2'), 'multicast');
  assert.is(check(f, 'fe80::1'), 'link-local');
  assert.is(check(f, 'febf:ffff::1'), 'link-local');
  assert.is(check(f, 'fec0::1'), 'ok', 'fec0::/10 is not link-local');
  assert.is(check(f, '::2'), 'ok');
  assert.is(check(f, '2001:db8::1'), 'ok');
});

test('with no prefix known nothing is accepted', () => {
  const f = createAddressFilter([]);
  assert.is(check(f, '2001:db8::1'), 'no-prefix');
  assert.is(check(f, 'fe80::1'), 'link-local');
  assert.is(check(f, '::'), 'unspecified');
});

test('bad prefixes and inputs throw', () => {
  assert.throws(() => createAddressFilter(['192.0.2.0/24']), /prefix 192.0.2.0\/24 is IPv4; mld-proxy needs IPv6 prefixes/);
  assert.throws(() => createAddressFilter(['2001:db8::/200']), /prefix length must be 0..128/);
  assert.throws(() => createAddressFilter(['2001:db8::/64'])(new Uint8Array(4)), /must be 16 bytes, got 4/);
});

test.run();
