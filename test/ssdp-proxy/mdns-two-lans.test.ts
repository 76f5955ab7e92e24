// Two LANs on one router: mDNS crosses to the peers only, never from one of our LANs to
// the other (a reflector's job, and UniFi's own); what a peer sends goes out on both.
import type dgram from 'node:dgram';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { IfaceInfo } from '../../src/lib/interfaces';
import { decodeFrame, encodeFrame } from '../../src/ssdp-proxy/frame';
import { createSsdpProxy } from '../../src/ssdp-proxy/daemon';
import { encodeDns, nameOf, TYPE } from '../../src/ssdp-proxy/dns';
import { FakeSocket, KEY } from './harness';

const info = (name: string, index: number, address: string): IfaceInfo => ({ name, index, up: true, addresses: [{ family: 'IPv4', address, prefixLength: 24 }] });
const QUERY = encodeDns({ id: 0, flags: 0, questions: [{ name: nameOf('_ipp._tcp.local'), type: TYPE.PTR, class: 1, unicastResponse: false }], answers: [], authorities: [], additionals: [] });

test('a query from one of our LANs goes to the peer and not to our other LAN; a peer\'s goes to both', async () => {
  const sockets: FakeSocket[] = [];
  const t = 1_800_000_000_000;
  const proxy = createSsdpProxy(
    { lans: ['br0', 'br10'], peers: ['10.0.0.2'], key: KEY, hub: false, port: 1901, maxPending: 16, mdns: { services: [], rate: 100 } },
    {
      now: () => t,
      createSocket: (type) => {
        const s = new FakeSocket(type);
        sockets.push(s);
        return s as unknown as dgram.Socket;
      },
      readInterfaces: () => new Map([['br0', info('br0', 5, '192.168.1.1')], ['br10', info('br10', 6, '192.168.10.1')]]),
      localAddressFor: async () => '10.0.0.1',
    },
  );
  await proxy.start();
  await new Promise((r) => setTimeout(r, 0));
  const mdns = sockets.find((s) => s.port === 5353 && s.type === 'udp4')!;
  const relay = sockets.find((s) => s.port === 1901)!;
  assert.equal(mdns.joined, ['192.168.1.1', '192.168.10.1']);
  mdns.deliver(QUERY, '192.168.1.20', 5353);
  assert.equal(relay.sent.map((x) => [x.address, decodeFrame(x.buf, KEY).type]), [['10.0.0.2', 'mdns']]);
  assert.is(mdns.sent.length, 0); // nothing on br10 (nor back on br0)
  const f = encodeFrame({ type: 'mdns', hops: 0, timestamp: t, id: '1111111111111111', requestId: '0000000000000000', sender: '10.0.0.2', recipient: '10.0.0.1', origin: '192.168.2.1', payload: QUERY }, KEY);
  relay.deliver(f, '10.0.0.2', 1901);
  assert.equal(mdns.sent.map((x) => x.via), ['192.168.1.1', '192.168.10.1']);
  // each comes back to our group socket from our own address on that LAN: not relayed again
  for (const [i, from] of ['192.168.1.1', '192.168.10.1'].entries()) mdns.deliver(mdns.sent[i].buf, from, 5353);
  assert.is(relay.sent.length, 1);
  proxy.close();
});

test.run();
