import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AF_INET, AF_INET6, formatAddress, readSockAddr, sockAddr, writeSockAddr } from '../../src/lib/sockaddr';

test('sockaddr_in: family host order, port and address network order', () => {
  const v = new DataView(new ArrayBuffer(32));
  const n = writeSockAddr(v, 0, sockAddr('10.0.2.254', 53));
  assert.is(n, 16);
  assert.equal([...new Uint8Array(v.buffer, 0, 16)], [AF_INET, 0, 0, 53, 10, 0, 2, 254, 0, 0, 0, 0, 0, 0, 0, 0]);
  const a = readSockAddr(v, 0)!;
  assert.equal(a, { family: 4, w0: 0, w1: 0, w2: 0xffff, w3: 0x0a0002fe, port: 53, scopeId: 0 });
  assert.is(formatAddress(a), '10.0.2.254');
});

test('sockaddr_in6 round trip, scope id in host order; IPv4-mapped shows as such', () => {
  const v = new DataView(new ArrayBuffer(32));
  const a = { ...sockAddr('fe80::1:2', 5353), scopeId: 7 };
  assert.is(writeSockAddr(v, 0, a), 28);
  const u = new Uint8Array(v.buffer);
  assert.equal([u[0], u[1], u[2], u[3]], [AF_INET6, 0, 0x14, 0xe9]);
  assert.equal([u[8], u[9], u[22], u[23]], [0xfe, 0x80, 0, 2]);
  assert.is(u[24], 7);
  assert.equal(readSockAddr(v, 0), a);
  assert.is(formatAddress(a), 'fe80::1:2');
  const m = sockAddr('::ffff:10.0.1.2', 1);
  assert.is(m.family, 6);
  assert.equal([m.w2, m.w3], [0xffff, 0x0a000102], 'the same words as the IPv4 address');
  assert.equal([sockAddr('10.0.1.2', 1).w2, sockAddr('10.0.1.2', 1).w3], [0xffff, 0x0a000102]);
  assert.is(formatAddress(m), '::ffff:10.0.1.2');
});

test('another family is not an address', () => {
  const v = new DataView(new ArrayBuffer(32));
  v.setUint16(0, 1, true); // AF_UNIX
  assert.is(readSockAddr(v, 0), undefined);
});

test.run();
