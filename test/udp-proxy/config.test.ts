import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadUdpProxyConfig, parseUdpProxyConfig, ruleKey } from '../../src/udp-proxy/config';

const rule = (extra: Record<string, unknown> = {}) => ({ listen: ':12345', upstream: '10.0.0.254:12345', ...extra });

test('the original plugin words: proxy and reply-addr-alias', () => {
  const c = parseUdpProxyConfig({ proxy: [rule({ 'reply-addr-alias': ['10.0.0.253:12345', '10.0.0.252:12345'] })] });
  const r = c.rules[0];
  assert.equal(r.listen, { port: 12345 });
  assert.equal(r.upstream, { family: 4, address: '10.0.0.254', port: 12345 });
  assert.equal(r.aliases.map((a) => `${a.address}:${a.port}`), ['10.0.0.253:12345', '10.0.0.252:12345']);
  assert.is(r.name, ':12345 -> 10.0.0.254:12345');
  // The Caddyfile took them on one line
  const one = parseUdpProxyConfig({ proxy: [rule({ 'reply-addr-alias': '10.0.0.253:12345 10.0.0.252' })] });
  assert.equal(one.rules[0].aliases, [{ family: 4, address: '10.0.0.253', port: 12345 }, { family: 4, address: '10.0.0.252' }]);
});

test('defaults: 60 s idle, 4096 sessions, every client, info, /run socket', () => {
  const c = parseUdpProxyConfig({ proxy: [rule()] });
  assert.is(c.rules[0].idleTimeoutMs, 60_000);
  assert.is(c.rules[0].maxSessions, 4096);
  assert.equal(c.rules[0].allow, []);
  assert.equal(c.rules[0].aliases, []);
  assert.is(c.logLevel, 'info');
  assert.is(c.controlSocket, '/run/udp-proxy.sock');
});

test('every rule option', () => {
  const c = parseUdpProxyConfig({
    proxy: [{ name: 'wg', listen: '[::]:51820', upstream: '[2001:db8::254]:51820', replyAlias: ['2001:db8::252'], idleTimeout: 180, maxSessions: 16, allow: ['2001:db8:1::/48', '192.168.0.0/16'] }],
    logLevel: 'debug',
  });
  const r = c.rules[0];
  assert.is(r.name, 'wg');
  assert.equal(r.listen, { family: 6, address: '::', port: 51820 });
  assert.equal(r.aliases, [{ family: 6, address: '2001:db8::252' }]);
  assert.is(r.idleTimeoutMs, 180_000);
  assert.is(r.maxSessions, 16);
  assert.is(r.allow.length, 2);
});

const refuses = (raw: unknown, re: RegExp) => assert.throws(() => parseUdpProxyConfig(raw), re);

test('errors name the field and the reason', () => {
  refuses({}, /^proxy: missing/);
  refuses({ proxy: [] }, /^proxy: needs at least 1 entry/);
  refuses({ proxy: [rule({ colour: 1 })] }, /^proxy\[0\]\.colour: unknown key/);
  refuses({ rules: [rule()] }, /rules: unknown key/);
  refuses({ proxy: [{ upstream: '10.0.0.1:1' }] }, /^proxy\[0\]\.listen: missing/);
  refuses({ proxy: [{ listen: 53 }] }, /^proxy\[0\]\.upstream: missing/);
  refuses({ proxy: [rule({ upstream: '10.0.0.254' })] }, /^proxy\[0\]\.upstream: "10.0.0.254": missing port/);
  refuses({ proxy: [rule({ listen: '99999' })] }, /^proxy\[0\]\.listen: .*1..65535/);
  refuses({ proxy: [rule({ replyAlias: ['10.0.0.1:x'] })] }, /^proxy\[0\]\.replyAlias\[0\]: .*port "x"/);
  refuses({ proxy: [rule({ replyAlias: ['2001:db8::1'] })] }, /^proxy\[0\]\.replyAlias\[0\]: "2001:db8::1" is IPv6 but the upstream is IPv4/);
  refuses({ proxy: [rule({ replyAlias: [], 'reply-addr-alias': [] })] }, /not both/);
  refuses({ proxy: [rule({ idleTimeout: 0 })] }, /^proxy\[0\]\.idleTimeout: 0 is out of range 1..86400/);
  refuses({ proxy: [rule({ maxSessions: 1.5 })] }, /^proxy\[0\]\.maxSessions: expected an integer/);
  refuses({ proxy: [rule({ allow: ['10.0.0.0/33'] })] }, /^proxy\[0\]\.allow\[0\]: .*prefix length must be 0..32/);
  refuses({ proxy: [rule(), rule({ upstream: '10.0.0.1:1' })] }, /^proxy\[1\]\.listen: port 12345 is also where proxy\[0\] listens/);
  refuses({ proxy: [rule({ name: 'a' }), rule({ name: 'a', listen: '1' })] }, /^proxy\[1\]\.name: "a" is also the name of proxy\[0\]/);
  refuses({ proxy: [rule()], logLevel: 'loud' }, /^logLevel: expected one of/);
});

test('two rules on one port but different addresses are fine', () => {
  const c = parseUdpProxyConfig({ proxy: [rule({ listen: '10.0.0.1:53' }), rule({ listen: '10.0.0.2:53' })] });
  assert.is(c.rules.length, 2);
  refuses({ proxy: [rule({ listen: '10.0.0.1:53' }), rule({ listen: '53' })] }, /port 53 is also/);
});

test('file and flags: flags win, file errors name the file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'udp-proxy-config-'));
  try {
    const file = path.join(dir, 'c.json');
    fs.writeFileSync(file, JSON.stringify({ proxy: [rule()], logLevel: 'warn', controlSocket: '/tmp/x.sock' }));
    const c = loadUdpProxyConfig(file, { logLevel: 'debug', proxy: undefined });
    assert.is(c.logLevel, 'debug');
    assert.is(c.controlSocket, '/tmp/x.sock');
    fs.writeFileSync(file, '{ "proxy": [ }');
    assert.throws(() => loadUdpProxyConfig(file, {}), /invalid JSON: .* line 1 column 14/);
    assert.throws(() => loadUdpProxyConfig(path.join(dir, 'missing.json'), {}), /cannot read: no such file/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('ruleKey changes with any rule option and only then', () => {
  const [a] = parseUdpProxyConfig({ proxy: [rule()] }).rules;
  const [b] = parseUdpProxyConfig({ proxy: [rule()] }).rules;
  assert.is(ruleKey(a), ruleKey(b));
  for (const extra of [{ idleTimeout: 61 }, { maxSessions: 1 }, { replyAlias: ['10.0.0.1'] }, { allow: ['10.0.0.0/8'] }, { name: 'x' }, { upstream: '10.0.0.254:1' }]) {
    const [c] = parseUdpProxyConfig({ proxy: [rule(extra)] }).rules;
    assert.is.not(ruleKey(c), ruleKey(a), JSON.stringify(extra));
  }
});

test.run();
