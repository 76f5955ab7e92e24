// The mDNS relay inside the daemon, on stand-in sockets: what goes to the peers,
// what is multicast on the LAN, and what never crosses.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { IfaceInfo } from '../../src/lib/interfaces';
import { decodeDns, encodeDns, nameOf, nameText, TYPE, type DnsMessage, type DnsRecord } from '../../src/ssdp-proxy/dns';
import { lanInfo, setup } from './harness';

const MDNS = { services: [] as string[], rate: 100 };
const rec = (name: string, type: number, data: DnsRecord['data'], cacheFlush = true): DnsRecord => ({ name: nameOf(name), type, class: 1, cacheFlush, ttl: 120, data });
const A = (name: string, address: string) => rec(name, TYPE.A, { kind: 'address', address });
const PTR = (name: string, target: string) => rec(name, TYPE.PTR, { kind: 'name', name: nameOf(target) }, false);
const msg = (over: Partial<DnsMessage>): Buffer => encodeDns({ id: 0, flags: 0, questions: [], answers: [], authorities: [], additionals: [], ...over });
const QUERY = (name = '_airplay._tcp.local', qu = true) => msg({ questions: [{ name: nameOf(name), type: TYPE.PTR, class: 1, unicastResponse: qu }] });
const RESPONSE = (...answers: DnsRecord[]) => msg({ flags: 0x8400, answers });
const mdnsFrames = (t: Awaited<ReturnType<typeof setup>>, peer?: string) => t.frames(peer).filter((f) => f.type === 'mdns');

test('a query from the LAN goes to every peer without its QU bit; counted', async () => {
  const t = await setup({ mdns: MDNS });
  assert.is(t.mdns.boundTo, '224.0.0.251'); // bound to the group: the router's responder keeps its unicast
  assert.equal(t.mdns.joined, ['192.168.1.1']);
  t.mdns.deliver(QUERY(), '192.168.1.20', 5353);
  const [f] = mdnsFrames(t, '10.0.0.2');
  assert.is(mdnsFrames(t, '10.0.0.3').length, 1);
  assert.is(f.ipv6, undefined);
  assert.is(f.origin, '192.168.1.1');
  const q = decodeDns(f.payload);
  assert.equal(q.questions.map((x) => [nameText(x.name), x.unicastResponse]), [['_airplay._tcp.local', false]]);
  const s = t.proxy.status().mdns!;
  assert.is(s.lans[0].queries, 1);
  assert.equal(s.peers.map((p) => p.queriesSent), [1, 1]);
  t.proxy.close();
});

test('a response from a peer is multicast on the LAN from port 5353 with hop limit 255, and its echo is not relayed back', async () => {
  const t = await setup({ mdns: MDNS });
  const answer = RESPONSE(PTR('_airplay._tcp.local', 'Speaker._airplay._tcp.local'), A('speaker.local', '192.168.2.30'));
  t.relay.deliver(t.frame({ type: 'mdns', payload: answer }), '10.0.0.2', 1901);
  assert.equal(t.mdns.sent.map((x) => [x.address, x.port, x.via, x.ttl]), [['224.0.0.251', 5353, '192.168.1.1', 255]]);
  assert.ok(t.mdns.sent[0].buf.equals(answer)); // unchanged: the original bytes
  // IP_MULTICAST_LOOP brings it back to our group socket, from our address and port 5353
  t.mdns.deliver(t.mdns.sent[0].buf, '192.168.1.1', 5353);
  assert.is(mdnsFrames(t).length, 0);
  const s = t.proxy.status().mdns!;
  assert.is(s.lans[0].responsesMulticast, 1);
  assert.is(s.peers[0].responsesReceived, 1);
  // the same bytes from a host of the LAN are that host's own: relayed
  t.mdns.deliver(t.mdns.sent[0].buf, '192.168.1.20', 5353);
  assert.is(mdnsFrames(t, '10.0.0.2').length, 1);
  t.proxy.close();
});

test('never passes a peer\'s mDNS to another peer; a hub does, once, not back to the sender', async () => {
  const spoke = await setup({ mdns: MDNS });
  spoke.relay.deliver(spoke.frame({ type: 'mdns', payload: QUERY() }), '10.0.0.2', 1901);
  assert.is(spoke.frames().length, 0);
  spoke.proxy.close();
  const hub = await setup({ hub: true, lans: [], mdns: MDNS });
  hub.relay.deliver(hub.frame({ type: 'mdns', ipv6: true, payload: QUERY() }), '10.0.0.2', 1901);
  hub.relay.deliver(hub.frame({ type: 'mdns', ipv6: true, payload: QUERY(), sender: '10.0.0.3' }), '10.0.0.3', 1901); // came around again
  assert.equal(hub.frames().map((f) => [f.type, f.hops, f.ipv6, f.recipient]), [['mdns', 1, true, '10.0.0.3']]);
  assert.is(hub.proxy.status().peers[1].drops.duplicate, 1);
  hub.proxy.close();
});

test('probes, link-local-only answers, other ports and malformed packets stay home, counted', async () => {
  const t = await setup({ mdns: MDNS });
  const probe = msg({ questions: [{ name: nameOf('hosta.local'), type: TYPE.ANY, class: 1, unicastResponse: true }], authorities: [A('hosta.local', '192.168.1.10')] });
  t.mdns.deliver(probe, '192.168.1.10', 5353);
  t.mdns.deliver(RESPONSE(A('ll.local', '169.254.1.1')), '192.168.1.11', 5353);
  t.mdns.deliver(QUERY(), '192.168.1.12', 40000); // a one-shot query wants unicast answers we cannot bring
  t.mdns.deliver(Buffer.from([0, 0, 0, 0, 0, 9]), '192.168.1.13', 5353);
  const loop = Buffer.from([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
  t.mdns.deliver(loop, '192.168.1.13', 5353);
  t.mdns.deliver(QUERY(), '10.9.9.9', 5353); // not on any LAN
  assert.is(mdnsFrames(t).length, 0);
  const s = t.proxy.status().mdns!;
  assert.equal(s.lans[0].drops, { probe: 1, 'link-local': 1, 'not-port-5353': 1, malformed: 2 });
  assert.equal(s.drops, { 'not-from-a-lan': 1 });
  t.proxy.close();
});

test('a name in use on our LAN: the peer\'s records for it are withheld; a conflict reply to a local probe stays home', async () => {
  const t = await setup({ mdns: MDNS });
  t.mdns.deliver(RESPONSE(A('samehost.local', '192.168.1.10')), '192.168.1.10', 5353);
  assert.is(mdnsFrames(t, '10.0.0.2').length, 1); // our own host's announcement crosses
  t.relay.deliver(t.frame({ type: 'mdns', payload: RESPONSE(A('samehost.local', '192.168.2.10')) }), '10.0.0.2', 1901);
  assert.is(t.mdns.sent.length, 0);
  assert.is(t.proxy.status().mdns!.peers[0].drops.conflict, 1);
  // someone probes for newhost; another host answers it: a conflict reply
  const probe = msg({ questions: [{ name: nameOf('newhost.local'), type: TYPE.ANY, class: 1, unicastResponse: true }], authorities: [A('newhost.local', '192.168.1.20')] });
  t.mdns.deliver(probe, '192.168.1.20', 5353);
  t.mdns.deliver(RESPONSE(A('newhost.local', '192.168.1.21')), '192.168.1.21', 5353);
  assert.is(mdnsFrames(t, '10.0.0.2').length, 1);
  assert.is(t.proxy.status().mdns!.lans[0].drops['conflict-reply'], 1);
  t.proxy.close();
});

test('rate limits per LAN and per peer', async () => {
  const t = await setup({ mdns: { services: [], rate: 5 } });
  for (let i = 0; i < 30; i++) t.mdns.deliver(QUERY(`_x${i}._tcp.local`), '192.168.1.20', 5353);
  assert.is(mdnsFrames(t, '10.0.0.2').length, 10); // a burst of twice the rate
  for (let i = 0; i < 30; i++) t.relay.deliver(t.frame({ type: 'mdns', id: (0x1000 + i).toString(16).padStart(16, '0'), payload: QUERY() }), '10.0.0.2', 1901);
  assert.is(t.mdns.sent.length, 10);
  const s = t.proxy.status().mdns!;
  assert.is(s.lans[0].drops['rate-limit'], 20);
  assert.is(s.peers[0].drops['rate-limit'], 20);
  t.clock.t += 1000;
  t.mdns.deliver(QUERY('_later._tcp.local'), '192.168.1.20', 5353);
  assert.is(mdnsFrames(t, '10.0.0.2').length, 11);
  t.proxy.close();
});

test('a service filter lets its type through and keeps another home', async () => {
  const t = await setup({ mdns: { services: ['_airplay._tcp'], rate: 100 } });
  t.mdns.deliver(QUERY('_airplay._tcp.local'), '192.168.1.20', 5353);
  t.mdns.deliver(QUERY('_googlecast._tcp.local'), '192.168.1.20', 5353);
  assert.equal(mdnsFrames(t, '10.0.0.2').map((f) => nameText(decodeDns(f.payload).questions[0].name)), ['_airplay._tcp.local']);
  t.relay.deliver(t.frame({ type: 'mdns', payload: RESPONSE(PTR('_googlecast._tcp.local', 'TV._googlecast._tcp.local')) }), '10.0.0.2', 1901);
  assert.is(t.mdns.sent.length, 0);
  assert.is(t.proxy.status().mdns!.lans[0].drops.filtered, 1);
  assert.is(t.proxy.status().mdns!.peers[0].drops.filtered, 1);
  t.proxy.close();
});

test('without --mdns: no port 5353, and a peer\'s mDNS frame is dropped as mdns-off', async () => {
  const t = await setup();
  assert.is(t.mdns, undefined);
  t.relay.deliver(t.frame({ type: 'mdns', payload: QUERY() }), '10.0.0.2', 1901);
  assert.is(t.proxy.status().peers[0].drops['mdns-off'], 1);
  assert.is(t.proxy.status().mdns, undefined);
  // a reload turns it on, and off again
  await t.proxy.reconfigure({ ...t.opts, mdns: MDNS });
  const sock = t.sockets.find((s) => s.port === 5353 && s.type === 'udp4')!;
  assert.equal(sock.joined, ['192.168.1.1']);
  sock.deliver(QUERY(), '192.168.1.20', 5353);
  assert.is(mdnsFrames(t).length, 2);
  await t.proxy.reconfigure({ ...t.opts, mdns: undefined });
  assert.ok(sock.closed);
  t.proxy.close();
});

test('IPv6: ff02::fb joined per LAN; a v6 query goes out marked IPv6 and comes in on ff02::fb', async () => {
  const info: IfaceInfo = { ...lanInfo, addresses: [...lanInfo.addresses, { family: 'IPv6', address: 'fe80::1', prefixLength: 64, scopeId: 5 }] };
  const t = await setup({ mdns: MDNS }, info);
  const six = t.sockets.find((s) => s.type === 'udp6' && s.port === 5353)!;
  assert.is(six.boundTo, 'ff02::fb%br0');
  assert.equal(six.joined, ['::%br0']);
  six.deliver(QUERY(), 'fe80::20%br0', 5353);
  const [f] = mdnsFrames(t, '10.0.0.2');
  assert.is(f.ipv6, true);
  t.relay.deliver(t.frame({ type: 'mdns', ipv6: true, payload: RESPONSE(A('speaker.local', '192.168.2.30')) }), '10.0.0.2', 1901);
  assert.equal(six.sent.map((x) => [x.address, x.port, x.via, x.ttl]), [['ff02::fb', 5353, '::%br0', 255]]);
  assert.is(t.mdns.sent.length, 0);
  t.proxy.close();
});

test.run();
