import dgram from 'node:dgram';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { udpSocket } from '../../src/ssdp-proxy/daemon';
import { setup } from './harness';

const bind = (s: dgram.Socket, port: number) =>
  new Promise<number>((resolve, reject) => {
    s.once('error', reject);
    s.bind({ address: '127.0.0.1', port }, () => resolve(s.address().port));
  });

// Linux lets sockets with SO_REUSEADDR share a UDP port, even one it picked for a
// bind to port 0; datagrams to it then reach either. A search's socket shared with
// another's would hand that search these replies.
test('a private socket holds its port alone; shared ones share the group port', async () => {
  const a = udpSocket('udp4', false);
  const b = udpSocket('udp4', false);
  const c = udpSocket('udp4', true);
  const d = udpSocket('udp4', true);
  try {
    const port = await bind(a, 0);
    await bind(b, port).then(
      () => assert.unreachable('a second private socket took the port'),
      (err: NodeJS.ErrnoException) => assert.is(err.code, 'EADDRINUSE'),
    );
    const shared = await bind(c, 0);
    assert.is(await bind(d, shared), shared);
  } finally {
    for (const s of [a, b, c, d]) {
      try {
        s.close();
      } catch {}
    }
  }
});

test('only the sockets on a group port are shared: relay, sender and search sockets are private', async () => {
  const t = await setup({ mdns: { services: [], rate: 100 } });
  t.relay.deliver(t.frame({}), '10.0.0.2', 1901);
  await t.tick();
  const search = t.sockets[t.sockets.length - 1];
  assert.equal(search.sent.map((s) => s.address), ['239.255.255.250'], 'the last socket is the search\'s');
  assert.ok(t.notify && t.mdns, 'a sender and the mDNS group socket exist');
  for (const s of t.sockets) assert.is(s.shared, s.port === 1900 || s.port === 5353, `the socket on port ${s.port}`);
  t.proxy.close();
});

test.run();
