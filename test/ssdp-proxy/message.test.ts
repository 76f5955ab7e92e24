import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { header, MAX_SSDP_BYTES, parseSsdp, searchWaitSeconds, serializeSsdp } from '../../src/ssdp-proxy/message';

const b = (s: string) => Buffer.from(s, 'latin1');
const SEARCH = 'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\nMX: 2\r\nST: ssdp:all\r\n\r\n';

test('parses an M-SEARCH; headers are case-insensitive', () => {
  const m = parseSsdp(b(SEARCH));
  assert.is(m.kind, 'search');
  assert.is(m.startLine, 'M-SEARCH * HTTP/1.1');
  assert.is(header(m, 'st'), 'ssdp:all');
  assert.is(header(m, 'Man'), '"ssdp:discover"');
  assert.is(header(m, 'missing'), undefined);
  assert.is(searchWaitSeconds(m), 2);
});

test('NOTIFY and responses; value whitespace trimmed, colons in values kept', () => {
  const n = parseSsdp(b('NOTIFY * HTTP/1.1\r\nhost:239.255.255.250:1900\r\nnt: upnp:rootdevice\r\nNTS:  ssdp:alive \r\n\r\n'));
  assert.is(n.kind, 'notify');
  assert.is(header(n, 'HOST'), '239.255.255.250:1900');
  assert.is(header(n, 'NTS'), 'ssdp:alive');
  const r = parseSsdp(b('HTTP/1.1 200 OK\r\nLOCATION: http://192.168.1.10:8200/rootDesc.xml\r\nEXT:\r\n\r\n'));
  assert.is(r.kind, 'response');
  assert.is(header(r, 'location'), 'http://192.168.1.10:8200/rootDesc.xml');
  assert.is(header(r, 'ext'), '');
});

test('round-trips through serialize unchanged', () => {
  for (const text of [SEARCH, 'HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\nEXT: \r\n\r\n']) {
    const m = parseSsdp(b(text));
    assert.equal(parseSsdp(serializeSsdp(m)), m);
  }
  assert.is(serializeSsdp(parseSsdp(b(SEARCH))).toString('latin1'), SEARCH);
});

test('a message with a single final CRLF is accepted', () => {
  assert.is(parseSsdp(b('M-SEARCH * HTTP/1.1\r\nST: ssdp:all\r\n')).headers.length, 1);
});

test('bad input is rejected with a reason', () => {
  assert.throws(() => parseSsdp(b('')), /empty/);
  assert.throws(() => parseSsdp(b('GET / HTTP/1.1\r\n\r\n')), /unknown start line/);
  assert.throws(() => parseSsdp(b('M-SEARCH * HTTP/1.1\nST: x\n\n')), /start line/); // LF only
  assert.throws(() => parseSsdp(b('M-SEARCH * HTTP/1.1\r\nno colon here\r\n\r\n')), /not "Name: value"/);
  assert.throws(() => parseSsdp(b('M-SEARCH * HTTP/1.1\r\nBad Name: x\r\n\r\n')), /not "Name: value"/);
  assert.throws(() => parseSsdp(b('M-SEARCH * HTTP/1.1\r\nST: a\nb\r\n\r\n')), /bare CR, LF/);
  assert.throws(() => parseSsdp(b('HTTP/1.1 404 Not Found\r\n\r\n')), /unknown start line/);
  assert.throws(() => parseSsdp(b(SEARCH + 'body')), /body/);
  const many = 'M-SEARCH * HTTP/1.1\r\n' + 'X: 1\r\n'.repeat(65) + '\r\n';
  assert.throws(() => parseSsdp(b(many)), /65 headers/);
});

test('huge input is rejected before it is read', () => {
  const huge = Buffer.alloc(MAX_SSDP_BYTES + 1, 0x41);
  assert.throws(() => parseSsdp(huge), /at most 8192/);
  assert.throws(() => serializeSsdp({ kind: 'notify', startLine: 'NOTIFY * HTTP/1.1', headers: [['X', 'a'.repeat(MAX_SSDP_BYTES)]] }), /at most/);
  assert.throws(() => serializeSsdp({ kind: 'notify', startLine: 'NOTIFY * HTTP/1.1', headers: [['X', 'a\r\nInjected: 1']] }), /CR, LF/);
});

test('MX: 1..5, missing or bad is 1, more is 5', () => {
  const mx = (v?: string) => searchWaitSeconds(parseSsdp(b(`M-SEARCH * HTTP/1.1\r\n${v === undefined ? '' : `MX: ${v}\r\n`}\r\n`)));
  assert.is(mx(), 1);
  assert.is(mx('0'), 1);
  assert.is(mx('3'), 3);
  assert.is(mx('120'), 5);
  assert.is(mx('-1'), 1);
  assert.is(mx('abc'), 1);
});

test.run();
