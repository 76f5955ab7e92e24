import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { kernelSourceAddress, RelayAddresses } from '../../src/ssdp-proxy/relay-addresses';
import { SEARCH, setup } from './harness';

test('kernelSourceAddress: the route lookup of a UDP connect, nothing sent', async () => {
  assert.is(await kernelSourceAddress('127.0.0.1'), '127.0.0.1');
  assert.is(await kernelSourceAddress('127.0.0.9'), '127.0.0.1');
});

test('RelayAddresses: learns, changes and loses our address toward each peer, and says what changed', async () => {
  const table: Record<string, string | undefined> = { '10.0.0.2': '10.0.0.1', '10.0.0.3': undefined };
  const clock = { t: 0 };
  const r = new RelayAddresses(async (p) => table[p], () => clock.t);
  assert.equal(await r.refresh(['10.0.0.2', '10.0.0.3']), [
    { peer: '10.0.0.2', address: '10.0.0.1', previous: undefined },
    { peer: '10.0.0.3', address: undefined, previous: undefined }, // the first lookup always reports
  ]);
  assert.is(r.get('10.0.0.2'), '10.0.0.1');
  assert.is(r.get('10.0.0.3'), undefined);
  assert.equal(await r.refresh(['10.0.0.2', '10.0.0.3']), []);
  table['10.0.0.2'] = '10.0.0.5';
  table['10.0.0.3'] = '10.0.1.1';
  assert.equal(await r.refresh(['10.0.0.2', '10.0.0.3']), [
    { peer: '10.0.0.2', address: '10.0.0.5', previous: '10.0.0.1' },
    { peer: '10.0.0.3', address: '10.0.1.1', previous: undefined },
  ]);
  table['10.0.0.3'] = undefined;
  assert.equal(await r.refresh(['10.0.0.2', '10.0.0.3']), [{ peer: '10.0.0.3', address: undefined, previous: '10.0.1.1' }]);
  // a peer no longer configured is forgotten
  await r.refresh(['10.0.0.3']);
  assert.is(r.get('10.0.0.2'), undefined);
});

test('RelayAddresses: refreshSoon looks again at most once per interval', async () => {
  let lookups = 0;
  const clock = { t: 10_000 };
  const r = new RelayAddresses(async () => (lookups++, '10.0.0.1'), () => clock.t);
  await r.refresh(['10.0.0.2']);
  r.refreshSoon(['10.0.0.2']);
  assert.is(lookups, 1);
  clock.t += 1000;
  r.refreshSoon(['10.0.0.2']);
  await new Promise((res) => setTimeout(res, 0));
  assert.is(lookups, 2);
});

test('daemon: nothing is sent to a peer we have no route to; counted no-route; sent once there is one', async () => {
  let route = false;
  const t = await setup({}, undefined, { localAddressFor: async (p) => (route || p !== '10.0.0.2' ? '10.0.0.1' : undefined) });
  assert.ok(t.warnings.some((w) => /no route to peer 10\.0\.0\.2/.test(w)));
  t.lan.deliver(SEARCH('ssdp:all'), '192.168.1.20', 50001);
  assert.is(t.frames('10.0.0.2').length, 0);
  assert.is(t.frames('10.0.0.3').length, 1);
  assert.is(t.proxy.status().peers[0].drops['no-route'], 1);
  route = true;
  await (t.proxy as any).refreshRelayAddresses();
  t.lan.deliver(SEARCH('ssdp:all'), '192.168.1.20', 50002);
  assert.is(t.frames('10.0.0.2').length, 1);
  t.proxy.close();
});

test.run();
