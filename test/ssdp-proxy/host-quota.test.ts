// Issue 15, fault 3: one LAN host filled the pending-search table with valid
// M-SEARCHes of distinct STs and every other host's searches were refused.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseSsdpProxyConfig } from '../../src/ssdp-proxy/config';
import { PendingSearchTable } from '../../src/ssdp-proxy/pending';
import { SEARCH, setup } from './harness';

const search = (id: string, clientAddress: string) => ({ id, clientAddress, clientPort: 1000, st: 'ssdp:all', mx: 1, data: undefined });

test('table: a source address past its quota is refused; other sources still get in', () => {
  const clock = { t: 0 };
  const table = new PendingSearchTable({ max: 10, maxPerSource: 3, now: () => clock.t });
  for (let i = 0; i < 3; i++) assert.ok(table.add(search(`a${i}`, '192.168.1.66')));
  assert.is(table.add(search('a3', '192.168.1.66')), undefined);
  assert.ok(table.atSourceQuota('192.168.1.66'));
  assert.not.ok(table.atSourceQuota('192.168.1.20'));
  assert.ok(table.add(search('b0', '192.168.1.20')));
  // the quota frees as the host's entries go, by expiry or delete
  table.delete('a0');
  assert.ok(table.add(search('a4', '192.168.1.66')));
  clock.t += 2_001;
  table.expire();
  assert.is(table.size, 0);
  for (let i = 0; i < 3; i++) assert.ok(table.add(search(`c${i}`, '192.168.1.66')));
});

test('daemon: a host flooding distinct STs cannot starve the others; its excess is counted host-quota', async () => {
  const t = await setup({ maxPending: 1024, maxPendingPerHost: 64 });
  for (let i = 0; i < 1100; i++) t.lan.deliver(SEARCH(`urn:x-flood:${i}`, 5), '192.168.1.66', 40000 + (i % 1000));
  for (const host of ['192.168.1.20', '192.168.1.21', '192.168.1.22']) t.lan.deliver(SEARCH('urn:schemas-upnp-org:device:MediaServer:1'), host, 50000);
  const out = t.frames('10.0.0.2');
  const legit = out.filter((f) => f.payload.toString().includes('MediaServer'));
  assert.is(legit.length, 3);
  const s = t.proxy.status();
  assert.is(s.pendingSearches, 64 + 3);
  assert.is(s.drops['host-quota'], 1100 - 64);
  assert.is(s.drops['pending-full'], undefined);
  assert.ok(t.warnings.some((w) => /192\.168\.1\.66/.test(w) && /per host/.test(w)));
  t.proxy.close();
});

test('daemon: the default quota is 64 searches per host', async () => {
  const t = await setup({ maxPending: 1024 });
  for (let i = 0; i < 100; i++) t.lan.deliver(SEARCH(`urn:x-flood:${i}`, 5), '192.168.1.66', 40000);
  assert.is(t.proxy.status().pendingSearches, 64);
  t.proxy.close();
});

test('config: maxPendingPerHost defaults to 64, and 0 is refused naming the field', () => {
  const base = { lans: ['br0'], peers: ['10.0.0.2'], keyFile: '/k' };
  const key = () => Buffer.alloc(32);
  assert.is(parseSsdpProxyConfig(base, 'config', key).maxPendingPerHost, 64);
  assert.is(parseSsdpProxyConfig({ ...base, maxPendingPerHost: 8 }, 'config', key).maxPendingPerHost, 8);
  assert.throws(() => parseSsdpProxyConfig({ ...base, maxPendingPerHost: 0 }, 'config', key), /maxPendingPerHost/);
});

test('daemon: a reload applies a new per-host quota', async () => {
  const t = await setup({ maxPending: 1024, maxPendingPerHost: 2 });
  for (let i = 0; i < 3; i++) t.lan.deliver(SEARCH(`urn:x:${i}`), '192.168.1.66', 40000);
  await t.proxy.reconfigure({ ...t.opts, maxPendingPerHost: 3 });
  t.lan.deliver(SEARCH('urn:x:3'), '192.168.1.66', 40000);
  assert.is(t.proxy.status().pendingSearches, 3);
  assert.is(t.proxy.status().drops['host-quota'], 1);
  t.proxy.close();
});

test.run();
