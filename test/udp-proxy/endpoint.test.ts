import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatEndpoint, parseEndpoint, parseListen } from '../../src/udp-proxy/endpoint';

test('parses HOST:PORT for IPv4 and [IPv6]:PORT', () => {
  assert.equal(parseEndpoint('10.0.0.254:12345'), { family: 4, address: '10.0.0.254', port: 12345 });
  assert.equal(parseEndpoint('[2001:DB8:0:0::1]:53'), { family: 6, address: '2001:db8::1', port: 53 });
  // IPv4-mapped is plain IPv4: the upstream socket is then udp4
  assert.equal(parseEndpoint('[::ffff:192.0.2.1]:53'), { family: 4, address: '192.0.2.1', port: 53 });
});

test('an alias may omit the port, also as a bare IPv6 address', () => {
  assert.equal(parseEndpoint('10.0.0.253', { optionalPort: true }), { family: 4, address: '10.0.0.253' });
  assert.equal(parseEndpoint('2001:db8::2', { optionalPort: true }), { family: 6, address: '2001:db8::2' });
  assert.equal(parseEndpoint('[2001:db8::2]', { optionalPort: true }), { family: 6, address: '2001:db8::2' });
});

test('refuses bad endpoints naming what is wrong', () => {
  assert.throws(() => parseEndpoint('10.0.0.254'), /missing port/);
  assert.throws(() => parseEndpoint('10.0.0.254:0'), /port "0" must be 1..65535/);
  assert.throws(() => parseEndpoint('10.0.0.254:65536'), /must be 1..65535/);
  assert.throws(() => parseEndpoint('10.0.0.256:53'), /octet 4/);
  assert.throws(() => parseEndpoint('010.0.0.1:53'), /leading zero/);
  assert.throws(() => parseEndpoint('dns.example:53'), /not a host name/);
  assert.throws(() => parseEndpoint('[2001:db8::1:53'), /missing "\]"/);
  assert.throws(() => parseEndpoint('[2001:db8::1]53'), /expected ":PORT"/);
  assert.throws(() => parseEndpoint(''), /HOST:PORT/);
});

test('parses [ADDR:]PORT for listening', () => {
  assert.equal(parseListen('53'), { port: 53 });
  assert.equal(parseListen(':53'), { port: 53 });
  assert.equal(parseListen('127.0.0.1:53'), { family: 4, address: '127.0.0.1', port: 53 });
  assert.equal(parseListen('[::1]:5353'), { family: 6, address: '::1', port: 5353 });
  assert.throws(() => parseListen('127.0.0.1'), /missing port/);
  assert.throws(() => parseListen('0'), /must be 1..65535/);
});

test('formats endpoints back', () => {
  assert.is(formatEndpoint({ family: 6, address: '2001:db8::1', port: 53 }), '[2001:db8::1]:53');
  assert.is(formatEndpoint({ family: 4, address: '10.0.0.1' }), '10.0.0.1');
  assert.is(formatEndpoint({ port: 53 }), ':53');
});

test.run();
