import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseSsdpProxyConfig, readKeyFile } from '../../src/ssdp-proxy/config';

const key = () => Buffer.from('k'.repeat(32));
const parse = (raw: unknown) => parseSsdpProxyConfig(raw, 'config', key);

test('defaults', () => {
  const c = parse({ lans: ['br0'], peers: ['10.0.0.2'], keyFile: '/k' });
  assert.equal(c.lans, ['br0']);
  assert.is(c.port, 1901);
  assert.is(c.hub, false);
  assert.is(c.controlSocket, '/run/ssdp-proxy.sock');
  assert.is(c.key.length, 32);
});

test('a hub needs no LAN; a spoke does', () => {
  assert.equal(parse({ hub: true, peers: ['10.0.0.2'], keyFile: '/k' }).lans, []);
  assert.throws(() => parse({ peers: ['10.0.0.2'], keyFile: '/k' }), /lans: missing/);
});

test('bad values name the field', () => {
  assert.throws(() => parse({ lans: ['br0'], keyFile: '/k' }), /peers: missing/);
  assert.throws(() => parse({ lans: ['br0'], peers: ['10.0.0'], keyFile: '/k' }), /peers\[0\]: "10.0.0" is not an IPv4 address/);
  assert.throws(() => parse({ lans: ['br0'], peers: ['10.0.0.2', '10.0.0.2'], keyFile: '/k' }), /peers\[1\]: 10.0.0.2 is named twice/);
  assert.throws(() => parse({ lans: ['br0'], peers: ['10.0.0.2'] }), /keyFile: missing/);
  assert.throws(() => parse({ lans: ['br0:1'], peers: ['10.0.0.2'], keyFile: '/k' }), /lans\[0\]/);
  assert.throws(() => parse({ lans: ['br0'], peers: ['10.0.0.2'], keyFile: '/k', port: 0 }), /port: 0 is out of range/);
  assert.throws(() => parse({ lans: ['br0'], peers: ['10.0.0.2'], keyFile: '/k', peer: [] }), /peer: unknown key/);
});

test('peers may be IPv6 (canonical form, as Node reports senders), never link-local or IPv4-mapped', () => {
  assert.equal(parse({ lans: ['br0'], peers: ['FD00:0:0::2', '10.0.0.3'], keyFile: '/k' }).peers, ['fd00::2', '10.0.0.3']);
  assert.throws(() => parse({ lans: ['br0'], peers: ['fe80::2'], keyFile: '/k' }), /peers\[0\]: fe80::2 is link-local/);
  assert.throws(() => parse({ lans: ['br0'], peers: ['::ffff:10.0.0.2'], keyFile: '/k' }), /peers\[0\]: .* write it as IPv4/);
  assert.throws(() => parse({ lans: ['br0'], peers: ['fd00::2', 'fd00:0::2'], keyFile: '/k' }), /peers\[1\]: fd00::2 is named twice/);
  assert.throws(() => parse({ lans: ['br0'], peers: ['fd00::g'], keyFile: '/k' }), /peers\[0\]: "fd00::g" is not an IPv6 address/);
});

test('filters per direction', () => {
  const c = parse({ lans: ['br0'], peers: ['10.0.0.2'], keyFile: '/k', filters: { inbound: { deny: ['*:InternetGatewayDevice:*'] } } });
  assert.equal(c.filters, { outbound: undefined, inbound: { allow: [], deny: ['*:InternetGatewayDevice:*'] } });
  assert.throws(() => parse({ lans: ['br0'], peers: ['10.0.0.2'], keyFile: '/k', filters: { in: {} } }), /filters.in: unknown key/);
  assert.throws(() => parse({ lans: ['br0'], peers: ['10.0.0.2'], keyFile: '/k', filters: { outbound: { allow: [''] } } }), /filters.outbound.allow\[0\]: must not be empty/);
});

test('key file: trimmed, at least 16 bytes, missing file explained', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ssdp-key-'));
  const f = path.join(dir, 'key');
  fs.writeFileSync(f, 'a'.repeat(64) + '\n');
  assert.is(readKeyFile(f, 'keyFile').length, 64);
  fs.writeFileSync(f, 'short\n');
  assert.throws(() => readKeyFile(f, 'keyFile'), /5 bytes, at least 16 needed/);
  assert.throws(() => readKeyFile(path.join(dir, 'nope'), 'keyFile'), /no such file/);
  fs.rmSync(dir, { recursive: true });
});

test.run();
