import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  cidr,
  cidrContains,
  formatCidr,
  formatIPv4,
  formatIPv6,
  ipv4,
  ipv6,
  isIPv4,
  isIPv6,
  parseCidr,
  parseIPv4,
  parseIPv6,
} from '../../src/lib/ip';
import { ConfigError } from '../../src/lib/config';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const canon = (s: string) => formatIPv6(parseIPv6(s));

test('parseIPv6 reads the RFC 4291 s2.2 forms', () => {
  assert.is(hex(parseIPv6('2001:DB8:0:0:8:800:200C:417A')), '20010db80000000000080800200c417a');
  assert.is(hex(parseIPv6('::')), '0'.repeat(32));
  assert.is(hex(parseIPv6('::1')), '0'.repeat(31) + '1');
  assert.is(hex(parseIPv6('ff01::101')), 'ff010000000000000000000000000101');
  assert.is(hex(parseIPv6('2001:db8::')), '20010db8' + '0'.repeat(24));
  assert.is(hex(parseIPv6('1:2:3:4:5:6:7::')), '00010002000300040005000600070000');
  assert.is(hex(parseIPv6('::2:3:4:5:6:7:8')), '00000002000300040005000600070008');
  assert.is(hex(parseIPv6('0:0:0:0:0:0:13.1.68.3')), '0000000000000000000000000d014403');
  assert.is(hex(parseIPv6('::ffff:129.144.52.38')), '00000000000000000000ffff81903426');
  assert.is(hex(parseIPv6('64:ff9b::192.0.2.33')), '0064ff9b0000000000000000c0000221');
  assert.is(hex(parseIPv6('0001:0DB8:0000:0000:0000:0000:0000:0001')), '00010db8000000000000000000000001');
});

test('parseIPv6 rejects malformed text with the reason', () => {
  const bad: [string, RegExp][] = [
    ['', /empty string/],
    ['fe80::1%eth0', /zone index/],
    ['1::2::3', /"::" may appear only once/],
    [':::', /"::" may appear only once/],
    ['1:2:3:4:5:6:7', /expected 8 groups of 16 bits, got 7/],
    ['1:2:3:4:5:6:7:8:9', /expected 8 groups of 16 bits, got 9/],
    ['1:2:3:4::5:6:7:8', /too many groups around "::" \(8, at most 7\)/],
    ['12345::', /group "12345" must be 1 to 4 hex digits/],
    ['g::', /group "g" must be 1 to 4 hex digits/],
    [':1:2:3:4:5:6:7', /empty group/],
    ['1:2:3:4:5:6:7:', /empty group/],
    ['1::2:', /empty group/],
    ['1.2.3.4::', /embedded IPv4 "1.2.3.4" is allowed only in the last 32 bits/],
    ['::1.2.3.4:1', /allowed only in the last 32 bits/],
    ['::1.2.3.256', /octet 4 "256" must be 0..255/],
    ['::1.2.3', /expected 4 dot-separated decimal octets, got 3/],
    ['::01.2.3.4', /leading zero/],
    ['1.2.3.4', /expected 8 groups/],
    [' ::1', /group " " must be 1 to 4 hex digits/],
  ];
  for (const [s, re] of bad) {
    assert.throws(() => parseIPv6(s), re, s);
    assert.throws(() => parseIPv6(s), (e: Error) => e.message.startsWith(`${JSON.stringify(s)} is not an IPv6 address: `), s);
    assert.not.ok(isIPv6(s), s);
  }
  assert.throws(() => parseIPv6(42 as unknown as string), /expected a string, got number/);
});

test('formatIPv6 is RFC 5952 canonical', () => {
  const cases: [string, string][] = [
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'], // s4.1, s4.3 lowercase
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // s4.2.3 first of equal runs
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // s4.2.2 never a single group
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // s4.2.3 longest run
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['fe80:0:0:0:0:0:0:0', 'fe80::'],
    ['ff02::1:FF34:5678', 'ff02::1:ff34:5678'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['0:1:0:1:0:1:0:1', '0:1:0:1:0:1:0:1'],
    ['::ffff:c000:0280', '::ffff:192.0.2.128'], // s5
    ['::1.2.3.4', '::102:304'],
  ];
  for (const [input, want] of cases) assert.is(canon(input), want, input);
  assert.throws(() => formatIPv6(new Uint8Array(4)), /must be 16 bytes, got 4/);
});

test('round-trips random addresses through format and parse', () => {
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) >> 16;
  for (let n = 0; n < 2000; n++) {
    const b = new Uint8Array(16);
    // Sprinkle zero groups so compression paths get exercised.
    for (let g = 0; g < 8; g++) {
      if (rnd() % 3 === 0) continue;
      b[g * 2] = rnd() & 0xff;
      b[g * 2 + 1] = rnd() & 0xff;
    }
    const text = formatIPv6(b);
    assert.is(hex(parseIPv6(text)), hex(b), text);
    assert.is(formatIPv6(parseIPv6(text.toUpperCase())), text);
  }
});

test('parseIPv4 / formatIPv4 / isIPv4', () => {
  assert.equal([...parseIPv4('192.0.2.1')], [192, 0, 2, 1]);
  assert.is(formatIPv4(parseIPv4('0.0.0.0')), '0.0.0.0');
  assert.is(formatIPv4(parseIPv4('255.255.255.255')), '255.255.255.255');
  assert.ok(isIPv4('10.0.0.1'));
  for (const [s, re] of [
    ['1.2.3', /expected 4 dot-separated decimal octets, got 3/],
    ['1.2.3.4.5', /got 5/],
    ['1.2.3.256', /octet 4 "256" must be 0..255/],
    ['010.0.0.1', /octet 1 "010" has a leading zero/],
    ['1..3.4', /octet 2 "" must be 1 to 3 decimal digits/],
    ['1.2.3.x', /octet 4 "x"/],
    ['1.2.3.4 ', /octet 4 "4 "/],
    ['::1', /expected 4/],
  ] as [string, RegExp][]) {
    assert.throws(() => parseIPv4(s), re, s);
    assert.not.ok(isIPv4(s), s);
  }
  assert.throws(() => formatIPv4(new Uint8Array(16)), /must be 4 bytes/);
});

test('parseCidr reads both families and zeroes host bits', () => {
  const c = parseCidr('2001:db8:1:2::5/64');
  assert.is(c.family, 6);
  assert.is(c.prefixLength, 64);
  assert.is(formatCidr(c), '2001:db8:1:2::/64');
  assert.is(formatCidr(parseCidr('192.0.2.77/26')), '192.0.2.64/26');
  assert.is(formatCidr(parseCidr('::/0')), '::/0');
  assert.is(formatCidr(parseCidr('0.0.0.0/0')), '0.0.0.0/0');
  assert.is(formatCidr(parseCidr('2001:db8::1/128')), '2001:db8::1/128');
  assert.is(formatCidr(parseCidr('2001:db8:ffff::/35')), '2001:db8:e000::/35');
});

test('parseCidr errors name the bound that failed', () => {
  assert.throws(() => parseCidr('2001:db8::/129'), (e: Error) => e.message === '"2001:db8::/129" prefix length must be 0..128');
  assert.throws(() => parseCidr('192.0.2.0/33'), (e: Error) => e.message === '"192.0.2.0/33" prefix length must be 0..32');
  assert.throws(() => parseCidr('2001:db8::/064'), /prefix length must be 0..128/);
  assert.throws(() => parseCidr('2001:db8::/'), /prefix length must be 0..128/);
  assert.throws(() => parseCidr('2001:db8::/6x'), /prefix length must be 0..128/);
  assert.throws(() => parseCidr('2001:db8::/64/1'), /prefix length must be 0..128/);
  assert.throws(() => parseCidr('2001:db8::'), /has no prefix length \(expected address\/length\)/);
  assert.throws(() => parseCidr('2001:zz8::/32'), /"2001:zz8::" is not an IPv6 address: group "zz8"/);
  assert.throws(() => parseCidr('192.0.2/24'), /"192.0.2" is not an IPv4 address/);
});

test('cidrContains compares only the prefix bits', () => {
  const net = parseCidr('2001:db8:ab00::/40');
  assert.ok(cidrContains(net, parseIPv6('2001:db8:ab00::1')));
  assert.ok(cidrContains(net, parseIPv6('2001:db8:abff:ffff::1')));
  assert.not.ok(cidrContains(net, parseIPv6('2001:db8:ac00::1')));
  const odd = parseCidr('2001:db8:8000::/33');
  assert.ok(cidrContains(odd, parseIPv6('2001:db8:ffff::')));
  assert.not.ok(cidrContains(odd, parseIPv6('2001:db8:7fff::')));
  assert.ok(cidrContains(parseCidr('::/0'), parseIPv6('ff02::1')));
  assert.ok(cidrContains(parseCidr('2001:db8::1/128'), parseIPv6('2001:db8::1')));
  assert.not.ok(cidrContains(parseCidr('2001:db8::1/128'), parseIPv6('2001:db8::2')));
  assert.ok(cidrContains(parseCidr('10.0.0.0/8'), parseIPv4('10.200.1.1')));
  assert.not.ok(cidrContains(parseCidr('10.0.0.0/8'), parseIPv6('::1')), 'family mismatch');
});

test('config validators return canonical forms and throw ConfigError', () => {
  assert.is(ipv6('2001:DB8:0::1', 'upstream.address'), '2001:db8::1');
  assert.is(ipv4('192.0.2.1', 'peer'), '192.0.2.1');
  assert.is(formatCidr(cidr('2001:db8::/32', 'prefixes[0]')), '2001:db8::/32');
  const cases: [() => unknown, string][] = [
    [() => ipv6(5, 'a'), 'a: expected an IPv6 address string, got 5'],
    [() => ipv6('fe80::1%br0', 'a'), 'a: "fe80::1%br0" is not an IPv6 address: zone index ("%...") is not allowed here'],
    [() => ipv4(null, 'b'), 'b: expected an IPv4 address string, got null'],
    [() => ipv4('1.2.3.999', 'b'), 'b: "1.2.3.999" is not an IPv4 address: octet 4 "999" must be 0..255'],
    [() => cidr('2001:db8::/129', 'prefixes[1]'), 'prefixes[1]: "2001:db8::/129" prefix length must be 0..128'],
    [() => cidr(undefined, 'prefixes[2]'), 'prefixes[2]: expected a CIDR prefix string like "2001:db8::/64", got nothing'],
  ];
  for (const [fn, message] of cases) {
    try {
      fn();
      assert.unreachable(message);
    } catch (e) {
      assert.instance(e, ConfigError);
      assert.is((e as Error).message, message);
    }
  }
});

test.run();
