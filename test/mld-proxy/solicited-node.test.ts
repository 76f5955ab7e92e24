import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatIPv6, parseIPv6 } from '../../src/lib/ip';
import { isSolicitedNodeGroup, solicitedNodeGroup, solicitedNodeGroupText } from '../../src/mld-proxy/solicited-node';

test('low 24 bits go under ff02::1:ff00:0/104', () => {
  assert.is(solicitedNodeGroupText('2001:db8::1234:5678'), 'ff02::1:ff34:5678');
  // RFC 4291 s2.7.1 example.
  assert.is(solicitedNodeGroupText('4037::01:800:200E:8C6C'), 'ff02::1:ff0e:8c6c');
  assert.is(solicitedNodeGroupText('2001:db8::1'), 'ff02::1:ff00:1');
  assert.is(solicitedNodeGroupText('fe80::5054:ff:fe12:3456'), 'ff02::1:ff12:3456');
  assert.is(solicitedNodeGroupText('2001:db8:ffff:ffff:ffff:ffff:ffff:ffff'), 'ff02::1:ffff:ffff');
  assert.is(solicitedNodeGroupText('::'), 'ff02::1:ff00:0');
});

test('addresses differing only above the low 24 bits share a group', () => {
  assert.is(solicitedNodeGroupText('2001:db8::aa:1234:5678'), 'ff02::1:ff34:5678');
  assert.is(solicitedNodeGroupText('2001:db8:1::bb:ff34:5678'), 'ff02::1:ff34:5678');
  assert.is(solicitedNodeGroupText('2001:db8::a:b:c:12:3456'), solicitedNodeGroupText('2001:db8:9::ff12:3456'));
});

test('returns a fresh 16-byte array and leaves the input alone', () => {
  const a = parseIPv6('2001:db8::1234:5678');
  const g = solicitedNodeGroup(a);
  assert.is(g.length, 16);
  assert.is.not(g, a);
  assert.is(formatIPv6(a), '2001:db8::1234:5678');
  assert.throws(() => solicitedNodeGroup(new Uint8Array(4)), /must be 16 bytes, got 4/);
});

test('isSolicitedNodeGroup', () => {
  assert.ok(isSolicitedNodeGroup(parseIPv6('ff02::1:ff00:1')));
  assert.ok(isSolicitedNodeGroup(parseIPv6('ff02::1:ffab:cdef')));
  assert.not.ok(isSolicitedNodeGroup(parseIPv6('ff02::1')));
  assert.not.ok(isSolicitedNodeGroup(parseIPv6('ff02::1:fe00:1')));
  assert.not.ok(isSolicitedNodeGroup(parseIPv6('ff05::1:ff00:1')));
  assert.not.ok(isSolicitedNodeGroup(parseIPv6('2001:db8::1:ff00:1')));
  assert.not.ok(isSolicitedNodeGroup(new Uint8Array(4)));
});

test.run();
