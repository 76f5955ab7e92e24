// Issue 15, fault 2: a frame this proxy sent, captured on the link and sent back
// to it from the peer's address, was taken as new traffic from that peer.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeFrame } from '../../src/ssdp-proxy/frame';
import { KEY, NOTIFY, SEARCH, setup } from './harness';

test('a search frame we sent to a peer, reflected back from that peer, is refused and counted reflected', async () => {
  const t = await setup();
  t.lan.deliver(SEARCH('urn:x:a'), '192.168.1.20', 50001);
  const toB = t.relay.sent.find((s) => s.address === '10.0.0.2')!;
  const before = t.sockets.length;
  for (let i = 0; i < 20; i++) t.relay.deliver(toB.buf, '10.0.0.2', 1901);
  await t.tick();
  // Not multicast on our LAN: no search socket was opened for it, nothing sent anywhere.
  assert.is(t.sockets.length, before);
  assert.is(t.proxy.status().lans[0].searchesMulticast, 0);
  assert.is(t.proxy.status().peers[0].drops.reflected, 20);
  assert.is(t.proxy.status().peers[0].searchesReceived, 0);
  t.proxy.close();
});

test('a NOTIFY frame we sent, reflected back, is refused as reflected (not a mesh duplicate)', async () => {
  const t = await setup();
  t.lan.deliver(NOTIFY, '192.168.1.20', 1900);
  const toC = t.relay.sent.find((s) => s.address === '10.0.0.3')!;
  t.relay.deliver(toC.buf, '10.0.0.3', 1901);
  assert.is(t.notify.sent.length, 0);
  assert.equal(t.proxy.status().peers[1].drops, { reflected: 1 });
  t.proxy.close();
});

test('a frame one peer sent to another peer, replayed to us from its sender, is refused', async () => {
  const t = await setup();
  // 10.0.0.2 -> 10.0.0.3, captured and sent to us from 10.0.0.2: not meant for us.
  t.relay.deliver(t.frame({ recipient: '10.0.0.3' }), '10.0.0.2', 1901);
  // ... and one that claims another sender than the address it came from.
  t.relay.deliver(t.frame({ id: '2222222222222222', requestId: '2222222222222222', sender: '10.0.0.3' }), '10.0.0.2', 1901);
  await t.tick();
  assert.is(t.proxy.status().lans[0].searchesMulticast, 0);
  assert.equal(t.proxy.status().peers[0].drops, { reflected: 2 });
  // The same search, truly from 10.0.0.2 to us, is taken.
  t.relay.deliver(t.frame({ id: '3333333333333333', requestId: '3333333333333333' }), '10.0.0.2', 1901);
  await t.tick();
  assert.is(t.proxy.status().lans[0].searchesMulticast, 1);
  t.proxy.close();
});

test('each peer gets its own frame: sender and recipient are ours and theirs', async () => {
  const t = await setup({ peers: ['10.0.0.2', 'fd00::3'] });
  t.lan.deliver(SEARCH('ssdp:all'), '192.168.1.20', 50001);
  const [b] = t.frames('10.0.0.2');
  assert.equal([b.sender, b.recipient], ['10.0.0.1', '10.0.0.2']);
  const relay6 = t.sockets.find((x) => x.type === 'udp6' && x.port === 1901)!;
  const c = decodeFrame(relay6.sent[0].buf, KEY);
  assert.equal([c.sender, c.recipient], ['fd00::1', 'fd00::3']);
  assert.is(b.id, c.id); // one search, one id: the origin matches the replies to it
  t.proxy.close();
});

test.run();
