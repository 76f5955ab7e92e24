import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { IfaceInfo } from '../../src/lib/interfaces';
import { decodeFrame, encodeFrame } from '../../src/ssdp-proxy/frame';
import { KEY, lanInfo, NOTIFY, REPLY, SEARCH, setup } from './harness';

test('a LAN search goes to every peer; each reply goes to that client address and port', async () => {
  const t = await setup();
  assert.equal(t.lan.joined, ['192.168.1.1']);
  // Bound to the group, not the wildcard: unicast to port 1900 stays with miniupnpd.
  assert.is(t.lan.boundTo, '239.255.255.250');
  t.lan.deliver(SEARCH('upnp:rootdevice'), '192.168.1.20', 50001);
  t.lan.deliver(SEARCH('urn:x:a'), '192.168.1.20', 50002);
  const out = t.frames('10.0.0.2');
  assert.is(out.length, 2);
  assert.is(t.frames('10.0.0.3').length, 2);
  const [a, b] = out;
  assert.is.not(a.id, b.id);
  t.relay.deliver(t.frame({ type: 'reply', id: '2222222222222222', requestId: b.id, payload: REPLY('urn:x:a') }), '10.0.0.2', 1901);
  t.relay.deliver(t.frame({ type: 'reply', id: '3333333333333333', requestId: a.id, payload: REPLY('upnp:rootdevice'), sender: '10.0.0.3' }), '10.0.0.3', 1901);
  assert.equal(t.lan.sent.map((s) => [s.address, s.port, /ST: (\S+)/.exec(s.buf.toString())![1]]), [
    ['192.168.1.20', 50002, 'urn:x:a'],
    ['192.168.1.20', 50001, 'upnp:rootdevice'],
  ]);
  t.proxy.close();
});

test('a reply after MX + 1 s is dropped, never multicast', async () => {
  const t = await setup();
  t.lan.deliver(SEARCH('ssdp:all', 1), '192.168.1.20', 50001);
  const [s] = t.frames();
  t.clock.t += 2_001;
  t.relay.deliver(t.frame({ type: 'reply', id: '4444444444444444', requestId: s.id, payload: REPLY('x') }), '10.0.0.2', 1901);
  assert.is(t.lan.sent.length, 0);
  assert.is(t.notify.sent.length, 0);
  assert.is(t.proxy.status().peers[0].drops['late-or-unknown-reply'], 1);
  t.proxy.close();
});

test('pending searches are bounded', async () => {
  const t = await setup({ maxPending: 2 });
  for (let p = 1; p <= 3; p++) t.lan.deliver(SEARCH('ssdp:all'), '192.168.1.20', 50000 + p);
  assert.is(t.frames('10.0.0.2').length, 2);
  assert.is(t.proxy.status().drops['pending-full'], 1);
  t.proxy.close();
});

test('a peer search is multicast from a fresh socket; its replies go back under the same id', async () => {
  const t = await setup();
  t.relay.deliver(t.frame({}), '10.0.0.2', 1901);
  await new Promise((r) => setTimeout(r, 0));
  const per = t.sockets[t.sockets.length - 1];
  assert.equal(per.sent.map((s) => [s.address, s.port, s.via]), [['239.255.255.250', 1900, '192.168.1.1']]);
  // Our own multicast looping back to the LAN socket is not relayed again.
  t.lan.deliver(per.sent[0].buf, '192.168.1.1', per.port);
  assert.is(t.frames().length, 0);
  per.deliver(REPLY('ssdp:all'), '192.168.1.10', 1900);
  const [r] = t.frames('10.0.0.2');
  assert.is(r.type, 'reply');
  assert.is(r.requestId, '1111111111111111');
  assert.is(t.frames('10.0.0.3').length, 0);
  t.clock.t += 3_001;
  (t.proxy as any).sweep();
  assert.ok(per.closed);
  t.proxy.close();
});

test('an expired search socket is closed even when a new search expires it', async () => {
  const t = await setup({ maxPending: 1 });
  t.relay.deliver(t.frame({}), '10.0.0.2', 1901);
  await new Promise((r) => setTimeout(r, 0));
  const first = t.sockets[t.sockets.length - 1];
  t.clock.t += 3_001; // past MX + 1 s, before any sweep
  t.relay.deliver(t.frame({ id: '2222222222222222', requestId: '2222222222222222' }), '10.0.0.2', 1901);
  assert.ok(first.closed);
  assert.is(t.proxy.status().remoteSearches, 1);
  t.proxy.close();
  assert.ok(t.sockets[t.sockets.length - 1].closed);
});

test('a reload applies a new maxPending without cutting pending searches short', async () => {
  const t = await setup({ maxPending: 4 });
  for (let p = 1; p <= 2; p++) t.lan.deliver(SEARCH('ssdp:all'), '192.168.1.20', 50000 + p);
  await t.proxy.reconfigure({ ...t.opts, maxPending: 1 });
  t.lan.deliver(SEARCH('ssdp:all'), '192.168.1.20', 50003);
  const s = t.proxy.status();
  assert.is(s.maxPending, 1);
  assert.is(s.pendingSearches, 2);
  assert.is(s.drops['pending-full'], 1);
  t.proxy.close();
});

test('unknown senders, wrong keys, replays and duplicates are dropped and counted', async () => {
  const t = await setup();
  t.relay.deliver(t.frame({ type: 'notify', payload: NOTIFY }), '10.0.0.99', 1901);
  const wrong = encodeFrame({ type: 'notify', hops: 0, timestamp: t.clock.t, id: '5555555555555555', requestId: '0000000000000000', origin: '10.0.0.2', sender: '10.0.0.2', recipient: '10.0.0.1', payload: NOTIFY }, Buffer.from('some other key 0123'));
  t.relay.deliver(wrong, '10.0.0.2', 1901);
  const good = t.frame({ type: 'notify', id: '6666666666666666', payload: NOTIFY });
  t.relay.deliver(good, '10.0.0.2', 1901);
  t.relay.deliver(good, '10.0.0.2', 1901);
  t.relay.deliver(t.frame({ id: '7777777777777777', timestamp: t.clock.t - 60_000 }), '10.0.0.2', 1901);
  const s = t.proxy.status();
  assert.equal(s.drops, { 'unknown-peer': 1 });
  assert.equal(s.peers[0].drops, { 'bad-auth': 1, duplicate: 1, stale: 1 });
  assert.is(t.notify.sent.length, 1); // the good one, once
  assert.is(s.lans[0].notifiesMulticast, 1);
  t.proxy.close();
});

test('a spoke never passes peer traffic on; a hub does, once, not back to the sender', async () => {
  const spoke = await setup();
  spoke.relay.deliver(spoke.frame({ type: 'notify', payload: NOTIFY }), '10.0.0.2', 1901);
  assert.is(spoke.frames().length, 0);
  spoke.proxy.close();
  const hub = await setup({ hub: true, lans: [] });
  hub.relay.deliver(hub.frame({ type: 'notify', payload: NOTIFY }), '10.0.0.2', 1901);
  hub.relay.deliver(hub.frame({ type: 'notify', payload: NOTIFY, sender: '10.0.0.3' }), '10.0.0.3', 1901); // came around again
  assert.equal(hub.frames().map((f) => [f.type, f.hops]), [['notify', 1]]);
  assert.is(hub.relay.sent[0].address, '10.0.0.3');
  // search through the hub, reply routed back to the spoke that searched
  hub.relay.deliver(hub.frame({ id: '8888888888888888', requestId: '8888888888888888' }), '10.0.0.2', 1901);
  hub.relay.deliver(hub.frame({ type: 'reply', id: '9999999999999999', requestId: '8888888888888888', payload: REPLY('x'), sender: '10.0.0.3' }), '10.0.0.3', 1901);
  const sent = hub.relay.sent.slice(1).map((s) => [s.address, decodeFrame(s.buf, KEY).type]);
  assert.equal(sent, [['10.0.0.3', 'search'], ['10.0.0.2', 'reply']]);
  hub.proxy.close();
});

test('reload keeps pending searches and applies new peers', async () => {
  const t = await setup();
  t.lan.deliver(SEARCH('ssdp:all'), '192.168.1.20', 50001);
  const [s] = t.frames('10.0.0.2');
  await t.proxy.reconfigure({ ...t.opts, peers: ['10.0.0.2', '10.0.0.4'] });
  assert.equal(t.proxy.status().peers.map((p) => p.address), ['10.0.0.2', '10.0.0.4']);
  assert.is(t.proxy.status().pendingSearches, 1);
  t.relay.deliver(t.frame({ type: 'reply', id: 'aaaaaaaaaaaaaaaa', requestId: s.id, payload: REPLY('x') }), '10.0.0.2', 1901);
  assert.equal(t.lan.sent.map((x) => x.port), [50001]);
  t.relay.deliver(t.frame({ type: 'notify', id: 'bbbbbbbbbbbbbbbb', payload: NOTIFY, sender: '10.0.0.3' }), '10.0.0.3', 1901);
  assert.is(t.proxy.status().drops['unknown-peer'], 1);
  t.proxy.close();
  t.proxy.close(); // twice is fine
});

test('IPv6: ff02::c joined per interface; searches relayed both ways; replies to the scoped client', async () => {
  const info: IfaceInfo = { ...lanInfo, addresses: [...lanInfo.addresses, { family: 'IPv6', address: 'fe80::1', prefixLength: 64, scopeId: 5 }] };
  const t = await setup({}, info);
  const lan6 = t.sockets.find((s) => s.type === 'udp6' && s.port === 1900)!;
  assert.is(lan6.boundTo, 'ff02::c%br0');
  assert.equal(lan6.joined, ['::%br0']);
  assert.is(t.proxy.status().lans[0].ipv6, true);
  const search6 = Buffer.from('M-SEARCH * HTTP/1.1\r\nHOST: [FF02::C]:1900\r\nMAN: "ssdp:discover"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n');
  lan6.deliver(search6, 'fe80::5%br0', 50006);
  const [s] = t.frames('10.0.0.2');
  assert.is(s.payload.toString(), search6.toString());
  t.relay.deliver(t.frame({ type: 'reply', id: 'cccccccccccccccc', requestId: s.id, payload: REPLY('ssdp:all') }), '10.0.0.2', 1901);
  assert.equal(lan6.sent.map((x) => [x.address, x.port]), [['fe80::5%br0', 50006]]);
  // from a peer: multicast on ff02::c out of br0
  t.relay.deliver(t.frame({ id: 'dddddddddddddddd', requestId: 'dddddddddddddddd', payload: search6, sender: '10.0.0.3' }), '10.0.0.3', 1901);
  await new Promise((r) => setTimeout(r, 0));
  const per = t.sockets[t.sockets.length - 1];
  assert.equal(per.sent.map((x) => [x.address, x.via]), [['ff02::c', '::%br0']]);
  // our own multicast coming back is ignored
  lan6.deliver(search6, 'fe80::1%br0', per.port);
  assert.is(t.frames().length, 2);
  // br0 re-created (UniFi does that): a new socket bound to the new interface
  (t.proxy as any).lanSide.up({ ...info, index: 9 }, info);
  await new Promise((r) => setTimeout(r, 0));
  assert.ok(lan6.closed);
  const again = t.sockets.filter((x) => x.type === 'udp6' && x.port === 1900);
  assert.is(again.length, 2);
  assert.equal(again[1].joined, ['::%br0']);
  t.proxy.close();
});

test('an IPv6 peer is reached over an IPv6 relay socket; a reload without one closes it', async () => {
  const t = await setup({ peers: ['10.0.0.2', 'fd00::3'] });
  const relay6 = t.sockets.find((x) => x.type === 'udp6' && x.port === 1901)!;
  t.lan.deliver(SEARCH('ssdp:all'), '192.168.1.20', 50001);
  assert.equal(t.relay.sent.map((x) => x.address), ['10.0.0.2']);
  assert.equal(relay6.sent.map((x) => x.address), ['fd00::3']);
  const [s] = relay6.sent.map((x) => decodeFrame(x.buf, KEY));
  relay6.deliver(t.frame({ type: 'reply', id: 'eeeeeeeeeeeeeeee', requestId: s.id, payload: REPLY('x'), sender: 'fd00::3' }), 'fd00::3', 1901);
  assert.equal(t.lan.sent.map((x) => [x.address, x.port]), [['192.168.1.20', 50001]]);
  assert.is(t.proxy.status().peers[1].repliesReceived, 1);
  await t.proxy.reconfigure({ ...t.opts, peers: ['10.0.0.2'] });
  assert.ok(relay6.closed);
  assert.is(t.sockets.filter((x) => x.type === 'udp6' && x.port === 1901 && !x.closed).length, 0);
  t.proxy.close();
});

test('ST/NT filters per direction, counted; a reload changes them', async () => {
  const t = await setup({ filters: { outbound: { allow: ['urn:schemas-upnp-org:*'], deny: [] }, inbound: { allow: [], deny: ['*:InternetGatewayDevice:*'] } } });
  t.lan.deliver(SEARCH('upnp:rootdevice'), '192.168.1.20', 50001);
  t.lan.deliver(SEARCH('urn:schemas-upnp-org:device:MediaServer:1'), '192.168.1.20', 50002);
  assert.is(t.frames('10.0.0.2').length, 1);
  assert.is(t.proxy.status().lans[0].filtered, 1);
  t.relay.deliver(t.frame({ payload: SEARCH('urn:schemas-upnp-org:device:InternetGatewayDevice:1') }), '10.0.0.2', 1901);
  assert.is(t.proxy.status().peers[0].drops.filtered, 1);
  await t.proxy.reconfigure({ ...t.opts, filters: {} });
  t.lan.deliver(SEARCH('upnp:rootdevice'), '192.168.1.20', 50003);
  assert.is(t.frames('10.0.0.2').length, 2);
  t.proxy.close();
});

test.run();
