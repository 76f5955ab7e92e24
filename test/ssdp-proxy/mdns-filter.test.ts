import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { nameKey, nameOf, nameText, TYPE, type DnsMessage, type DnsRecord } from '../../src/ssdp-proxy/dns';
import { filterForRelay, parseServiceType, type MdnsFilterContext } from '../../src/ssdp-proxy/mdns-filter';
import { MdnsNames } from '../../src/ssdp-proxy/mdns-names';

const rec = (name: string, type: number, data: DnsRecord['data'], over: Partial<DnsRecord> = {}): DnsRecord => ({ name: nameOf(name), type, class: 1, cacheFlush: false, ttl: 120, data, ...over });
const A = (name: string, address: string) => rec(name, TYPE.A, { kind: 'address', address }, { cacheFlush: true });
const AAAA = (name: string, address: string) => rec(name, TYPE.AAAA, { kind: 'address', address }, { cacheFlush: true });
const PTR = (name: string, target: string) => rec(name, TYPE.PTR, { kind: 'name', name: nameOf(target) }, { ttl: 4500 });
const SRV = (name: string, target: string) => rec(name, TYPE.SRV, { kind: 'srv', priority: 0, weight: 0, port: 631, target: nameOf(target) }, { cacheFlush: true });
const TXT = (name: string) => rec(name, TYPE.TXT, { kind: 'raw', bytes: Buffer.from([0]) }, { cacheFlush: true });
const NSEC = (name: string) => rec(name, TYPE.NSEC, { kind: 'nsec', next: nameOf(name), bitmaps: Buffer.from([0, 4, 0x40, 0, 0, 8]) }, { cacheFlush: true });

const response = (answers: DnsRecord[], additionals: DnsRecord[] = []): DnsMessage => ({ id: 0, flags: 0x8400, questions: [], answers, authorities: [], additionals });
const query = (names: [string, number, boolean?][], known: DnsRecord[] = [], authorities: DnsRecord[] = []): DnsMessage => ({
  id: 0,
  flags: 0,
  questions: names.map(([n, type, qu]) => ({ name: nameOf(n), type, class: 1, unicastResponse: !!qu })),
  answers: known,
  authorities,
  additionals: [],
});
const names = () => new MdnsNames(100, () => 0);
const ctx = (services: string[] = [], n = names(), local = false): MdnsFilterContext => ({ services: services.map(parseServiceType), hosts: n.hosts, localNames: local ? n.local : undefined });
const texts = (rs: DnsRecord[]) => rs.map((r) => `${nameText(r.name)}/${r.type}`);

const printer = response(
  [PTR('_ipp._tcp.local', 'Printer A._ipp._tcp.local'), SRV('Printer A._ipp._tcp.local', 'hosta.local'), TXT('Printer A._ipp._tcp.local')],
  [A('hosta.local', '192.168.1.10'), AAAA('hosta.local', 'fd01::10'), AAAA('hosta.local', 'fe80::10'), NSEC('hosta.local')],
);

test('a plain announcement crosses unchanged, but for its link-local AAAA', () => {
  const v = filterForRelay(printer, ctx());
  assert.ok(v.relay);
  if (!v.relay) return;
  assert.ok(v.changed);
  assert.equal(v.removed, { 'link-local': 1 });
  assert.equal(texts(v.message.additionals), ['hosta.local/1', 'hosta.local/28', 'hosta.local/47']);
  // cache-flush bits and TTLs are kept
  assert.equal(v.message.answers.map((r) => [r.cacheFlush, r.ttl]), [[false, 4500], [true, 120], [true, 120]]);
  const clean = response(printer.answers, [A('hosta.local', '192.168.1.10')]);
  const same = filterForRelay(clean, ctx());
  assert.ok(same.relay && !same.changed);
});

test('a name with only link-local addresses loses all its records; an answer of nothing else is not relayed', () => {
  const ll = response([A('ll.local', '169.254.7.7'), AAAA('ll.local', 'fe80::7'), NSEC('ll.local')]);
  assert.equal(filterForRelay(ll, ctx()), { relay: false, reason: 'link-local' });
  const mixed = response([SRV('X._ipp._tcp.local', 'll.local')], [A('ll.local', '169.254.7.7'), NSEC('ll.local'), A('ok.local', '192.168.1.5')]);
  const v = filterForRelay(mixed, ctx());
  assert.ok(v.relay);
  if (v.relay) {
    assert.equal(texts(v.message.answers), ['X._ipp._tcp.local/33']);
    assert.equal(texts(v.message.additionals), ['ok.local/1']);
    assert.equal(v.removed, { 'link-local': 2 });
  }
});

test('the QU bit of every question is cleared; known answers stay', () => {
  const q = query([['_airplay._tcp.local', TYPE.PTR, true], ['_ipp._tcp.local', TYPE.PTR, false]], [PTR('_ipp._tcp.local', 'P._ipp._tcp.local')]);
  const v = filterForRelay(q, ctx());
  assert.ok(v.relay && v.changed);
  if (v.relay) {
    assert.equal(v.message.questions.map((x) => x.unicastResponse), [false, false]);
    assert.is(v.message.answers.length, 1);
  }
  const plain = filterForRelay(query([['_ipp._tcp.local', TYPE.PTR]]), ctx());
  assert.ok(plain.relay && !plain.changed);
});

test('probes, other opcodes and error responses are not relayed', () => {
  const probe = query([['hosta.local', TYPE.ANY, true]], [], [A('hosta.local', '192.168.1.10')]);
  assert.equal(filterForRelay(probe, ctx()), { relay: false, reason: 'probe' });
  assert.equal(filterForRelay({ ...printer, flags: 0x8400 | (5 << 11) }, ctx()), { relay: false, reason: 'opcode' });
  assert.equal(filterForRelay({ ...printer, flags: 0x8403 }, ctx()), { relay: false, reason: 'rcode' });
});

test('service filter: the type, its instances and subtypes, their hosts, and the enumeration as far as it names them', () => {
  const n = names();
  const c = ctx(['_ipp._tcp'], n);
  const q = query([['_ipp._tcp.local', TYPE.PTR], ['_printer._sub._ipp._tcp.local', TYPE.PTR], ['_airplay._tcp.local', TYPE.PTR], ['_services._dns-sd._udp.local', TYPE.PTR], ['hosta.local', TYPE.A]]);
  const v = filterForRelay(q, c);
  assert.ok(v.relay);
  if (v.relay) assert.equal(v.message.questions.map((x) => nameText(x.name)), ['_ipp._tcp.local', '_printer._sub._ipp._tcp.local', '_services._dns-sd._udp.local']);
  // only airplay: nothing of the query is left
  assert.equal(filterForRelay(query([['_airplay._tcp.local', TYPE.PTR]]), c), { relay: false, reason: 'filtered' });
  // the host an allowed SRV points to crosses once learned (the relay learns before it filters)
  n.learnTargets(printer, c.services);
  const r = filterForRelay(response([...printer.answers, PTR('_airplay._tcp.local', 'Speaker._airplay._tcp.local'), PTR('_services._dns-sd._udp.local', '_ipp._tcp.local'), PTR('_services._dns-sd._udp.local', '_airplay._tcp.local')], printer.additionals), c);
  assert.ok(r.relay);
  if (r.relay) {
    assert.equal(texts(r.message.answers), ['_ipp._tcp.local/12', 'Printer A._ipp._tcp.local/33', 'Printer A._ipp._tcp.local/16', '_services._dns-sd._udp.local/12']);
    assert.equal(texts(r.message.additionals), ['hosta.local/1', 'hosta.local/28', 'hosta.local/47']);
    assert.equal(r.removed, { filtered: 2, 'link-local': 1 });
  }
  assert.ok(filterForRelay(query([['HOSTA.local', TYPE.A]]), c).relay); // names compare case-insensitively
  assert.equal(filterForRelay(response([A('other.local', '192.168.1.9')]), c), { relay: false, reason: 'filtered' });
});

test('service types are checked', () => {
  for (const ok of ['_airplay._tcp', '_ipp._tcp', '_googlecast._tcp', '_hap._udp', '_x-y1._TCP']) parseServiceType(ok);
  for (const bad of ['airplay._tcp', '_airplay', '_airplay._sctp', '_a.b._tcp', '_-x._tcp', '_sixteen-letters1._tcp', '']) assert.throws(() => parseServiceType(bad), /service type like _airplay._tcp/, bad);
});

test('records for names in use on our LANs are withheld from what peers send', () => {
  const n = names();
  n.learnFromLan(response([A('samehost.local', '192.168.2.10'), PTR('_ipp._tcp.local', 'P._ipp._tcp.local')]), '192.168.2.10');
  assert.ok(n.local.has(nameKey(nameOf('SameHost.local'))));
  assert.not.ok(n.local.has(nameKey(nameOf('_ipp._tcp.local')))); // shared: no one's
  const theirs = response([A('samehost.local', '192.168.1.10'), PTR('_ipp._tcp.local', 'Q._ipp._tcp.local')]);
  const v = filterForRelay(theirs, ctx([], n, true));
  assert.ok(v.relay);
  if (v.relay) {
    assert.equal(texts(v.message.answers), ['_ipp._tcp.local/12']);
    assert.equal(v.removed, { conflict: 1 });
  }
  assert.equal(filterForRelay(response([A('samehost.local', '192.168.1.10')]), ctx([], n, true)), { relay: false, reason: 'conflict' });
  // the known answers of a query claim nothing: often they are our own records, cached there
  const q = filterForRelay(query([['samehost.local', TYPE.A]], [A('samehost.local', '192.168.2.10')]), ctx([], n, true));
  assert.ok(q.relay && !q.changed);
  // a goodbye gives the name up
  n.learnFromLan(response([{ ...A('samehost.local', '192.168.2.10'), ttl: 0 }]), '192.168.2.10');
  assert.ok(filterForRelay(theirs, ctx([], n, true)).relay && !n.local.has(nameKey(nameOf('samehost.local'))));
});

test('a probe marks its name as ours; a response to it from another host is a conflict reply, the prober\'s own announcement is not', () => {
  const clock = { t: 0 };
  const n = new MdnsNames(100, () => clock.t);
  const probe = (from: string) => n.learnFromLan(query([['newhost.local', TYPE.ANY, true]], [], [A('newhost.local', '192.168.1.20')]), from);
  probe('192.168.1.20');
  probe('fe80::20%br0');
  assert.ok(n.local.has(nameKey(nameOf('newhost.local'))));
  const answer = response([A('newhost.local', '192.168.1.30')]);
  assert.ok(n.isConflictReply(answer, '192.168.1.30'));
  assert.not.ok(n.isConflictReply(answer, '192.168.1.20'));
  assert.not.ok(n.isConflictReply(answer, 'fe80::20%br0'));
  clock.t += 2001;
  assert.not.ok(n.isConflictReply(answer, '192.168.1.30'));
});

test('the tables are bounded', () => {
  const n = new MdnsNames(10, () => 0);
  for (let i = 0; i < 1000; i++) n.learnFromLan(response([A(`h${i}.local`, '192.168.1.1')]), '192.168.1.1');
  assert.is(n.local.size, 10);
  assert.ok(n.local.has(nameKey(nameOf('h999.local'))));
});

test.run();
