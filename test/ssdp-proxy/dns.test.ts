import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeDns, DnsError, encodeDns, isResponse, MAX_DNS_BYTES, nameKey, nameOf, nameText, TYPE, type DnsMessage, type DnsRecord } from '../../src/ssdp-proxy/dns';

const rec = (name: string, type: number, data: DnsRecord['data'], over: Partial<DnsRecord> = {}): DnsRecord => ({ name: nameOf(name), type, class: 1, cacheFlush: false, ttl: 120, data, ...over });

// An announcement as avahi sends one: PTR, SRV, TXT, A and AAAA of a printer.
const announcement: DnsMessage = {
  id: 0,
  flags: 0x8400,
  questions: [],
  answers: [
    rec('_ipp._tcp.local', TYPE.PTR, { kind: 'name', name: nameOf('Printer A._ipp._tcp.local') }, { ttl: 4500 }),
    rec('Printer A._ipp._tcp.local', TYPE.SRV, { kind: 'srv', priority: 0, weight: 0, port: 631, target: nameOf('hosta.local') }, { cacheFlush: true }),
    rec('Printer A._ipp._tcp.local', TYPE.TXT, { kind: 'raw', bytes: Buffer.from('\x06note=x\x04rp=y') }, { cacheFlush: true, ttl: 4500 }),
  ],
  authorities: [],
  additionals: [
    rec('hosta.local', TYPE.A, { kind: 'address', address: '192.168.1.10' }, { cacheFlush: true }),
    rec('hosta.local', TYPE.AAAA, { kind: 'address', address: 'fd01::10' }, { cacheFlush: true }),
    rec('hosta.local', TYPE.NSEC, { kind: 'nsec', next: nameOf('hosta.local'), bitmaps: Buffer.from([0, 4, 0x40, 0, 0, 8]) }, { cacheFlush: true }),
  ],
};

const query: DnsMessage = {
  id: 0,
  flags: 0,
  questions: [
    { name: nameOf('_airplay._tcp.local'), type: TYPE.PTR, class: 1, unicastResponse: true },
    { name: nameOf('_ipp._tcp.local'), type: TYPE.PTR, class: 1, unicastResponse: false },
  ],
  answers: [rec('_ipp._tcp.local', TYPE.PTR, { kind: 'name', name: nameOf('Printer A._ipp._tcp.local') }, { ttl: 4000 })],
  authorities: [],
  additionals: [],
};

/** A header with these counts, then the given bytes. */
function packet(counts: [number, number, number, number], body: number[], flags = 0x8400): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(flags, 2);
  counts.forEach((c, i) => h.writeUInt16BE(c, 4 + 2 * i));
  return Buffer.concat([h, Buffer.from(body)]);
}
const isDnsError = (e: unknown) => e instanceof DnsError;
const refuses = (buf: Buffer, re: RegExp) => assert.throws(() => decodeDns(buf), (e: unknown) => e instanceof DnsError && re.test((e as Error).message));

test('round-trips an announcement and a query, every section and record kind', () => {
  for (const m of [announcement, query]) assert.equal(decodeDns(encodeDns(m)), m);
  const soa = rec('local', TYPE.SOA, { kind: 'soa', mname: nameOf('ns.local'), rname: nameOf('root.local'), numbers: Buffer.alloc(20, 1) });
  const mx = rec('local', TYPE.MX, { kind: 'mx', preference: 10, exchange: nameOf('mail.local') });
  const opt = { name: [], type: TYPE.OPT, class: 1440, cacheFlush: false, ttl: 0, data: { kind: 'raw' as const, bytes: Buffer.from([0, 4, 0, 0]) } };
  const m = { ...query, authorities: [soa, mx], additionals: [opt] };
  assert.equal(decodeDns(encodeDns(m)), m);
  assert.ok(isResponse(announcement) && !isResponse(query));
});

test('names are compressed on encode, and only on an exact match of the bytes', () => {
  const buf = encodeDns(announcement);
  // "Printer A._ipp._tcp.local" is written once in full; every later name points into it.
  assert.is(buf.indexOf('Printer A'), buf.lastIndexOf('Printer A'));
  assert.is(buf.indexOf('hosta'), buf.lastIndexOf('hosta'));
  const mixed: DnsMessage = { ...query, questions: [query.questions[0], { ...query.questions[0], name: nameOf('_AirPlay._tcp.local') }], answers: [] };
  const out = decodeDns(encodeDns(mixed));
  assert.is(nameText(out.questions[1].name), '_AirPlay._tcp.local');
  assert.is(nameKey(out.questions[0].name), nameKey(out.questions[1].name));
});

test('labels are bytes: UTF-8, spaces and dots survive', () => {
  const name = ['Wohnzimmer (Küche)', 'v1.2 printer'].map((l) => Buffer.from(l, 'utf8').toString('latin1')).concat(['_ipp', '_tcp', 'local']);
  const m: DnsMessage = { ...query, questions: [{ name, type: TYPE.SRV, class: 1, unicastResponse: false }], answers: [] };
  const back = decodeDns(encodeDns(m));
  assert.equal(back.questions[0].name, name);
  assert.is(nameText(back.questions[0].name), 'Wohnzimmer (Küche).v1.2 printer._ipp._tcp.local');
});

test('the QU and cache-flush bits are read apart from the class', () => {
  const m = decodeDns(encodeDns(announcement));
  assert.equal(m.answers.map((r) => [r.class, r.cacheFlush]), [[1, false], [1, true], [1, true]]);
  const q = decodeDns(encodeDns(query));
  assert.equal(q.questions.map((x) => [x.class, x.unicastResponse]), [[1, true], [1, false]]);
});

test('refused: shorter than a header, longer than 9000 bytes, bytes after the last record', () => {
  refuses(Buffer.alloc(11), /shorter than a DNS header/);
  refuses(Buffer.alloc(MAX_DNS_BYTES + 1), /at most 9000/);
  refuses(Buffer.concat([encodeDns(query), Buffer.from([0])]), /1 bytes after the last record/);
});

test('refused: counts larger than the packet, before anything is read', () => {
  refuses(packet([0, 65535, 0, 0], []), /counts 0\/65535\/0\/0 need at least/);
  refuses(packet([3, 0, 0, 0], [0, 0, 1, 0, 1]), /counts 3\/0\/0\/0/);
  // one more record than there is
  const buf = encodeDns(announcement);
  buf.writeUInt16BE(4, 6);
  assert.throws(() => decodeDns(buf), isDnsError);
});

test('refused: compression loops of every shape', () => {
  // a pointer to itself
  refuses(packet([1, 0, 0, 0], [0xc0, 12, 0, 1, 0, 1]), /does not point back/);
  // a pointer forward
  refuses(packet([1, 0, 0, 0], [0xc0, 14, 0, 1, 0, 1, 0]), /does not point back/);
  // a label then a pointer back to that label: a -> a -> a ...
  refuses(packet([1, 0, 0, 0], [1, 0x61, 0xc0, 12, 0, 1, 0, 1]), /does not point back/);
  // two names pointing at each other: the second's pointer goes back to the first, whose pointer goes forward
  refuses(packet([2, 0, 0, 0], [1, 0x61, 0xc0, 20, 0, 1, 0, 1, 0xc0, 12, 0, 1, 0, 1]), /does not point back/);
  // a chain that jumps back and then forward again past where it started
  refuses(packet([2, 0, 0, 0], [0, 0, 1, 0, 1, 1, 0x62, 0xc0, 19, 0, 1, 0, 1]), /does not point back|runs past/);
  // into the header
  refuses(packet([1, 0, 0, 0], [1, 0x61, 0xc0, 2, 0, 1, 0, 1]), /into the header/);
});

test('a valid chain of pointers is followed', () => {
  // name 1: "b.a" at 12; name 2: "c" + pointer to "a" (at 14); name 3: pointer to name 2 (at 24)
  const buf = packet([3, 0, 0, 0], [1, 0x62, 1, 0x61, 0, 0, 1, 0, 1, 1, 0x63, 0xc0, 14, 0, 1, 0, 1, 0xc0, 21, 0, 1, 0, 1]);
  const m = decodeDns(buf);
  assert.equal(m.questions.map((q) => nameText(q.name)), ['b.a', 'c.a', 'c.a']);
});

test('refused: label types 01 and 10, names over 255 bytes, truncated names and questions', () => {
  refuses(packet([1, 0, 0, 0], [0x41, 0, 0, 1, 0, 1]), /label type 0x40/);
  refuses(packet([1, 0, 0, 0], [0x81, 0, 0, 1, 0, 1]), /label type 0x80/);
  const long: number[] = [];
  for (let i = 0; i < 5; i++) long.push(63, ...Buffer.alloc(63, 0x61));
  refuses(packet([1, 0, 0, 0], [...long, 0, 0, 1, 0, 1]), /longer than 255/);
  refuses(packet([1, 0, 0, 0], [5, 0x61, 0x61, 0, 1, 0]), /runs past the end/);
  refuses(packet([1, 0, 0, 0], [1, 0x61, 0, 0, 1]), /runs past the end/);
});

test('refused: truncated records and rdata that does not match its length or type', () => {
  const buf = encodeDns(announcement);
  for (const cut of [1, 2, 5, 20]) assert.throws(() => decodeDns(buf.subarray(0, buf.length - cut)), isDnsError, `cut ${cut}`);
  const a = (rdata: number[], type: number = TYPE.A) => packet([0, 1, 0, 0], [0, 0, type, 0, 1, 0, 0, 0, 120, 0, rdata.length, ...rdata]);
  assert.is(decodeDns(a([10, 0, 0, 1])).answers[0].data.kind, 'address');
  refuses(a([10, 0, 0, 1, 9]), /A rdata of 5 bytes, not 4/);
  refuses(a([1, 2, 3, 4], TYPE.AAAA), /AAAA rdata of 4 bytes, not 16/);
  // rdlength past the end of the packet
  refuses(packet([0, 1, 0, 0], [0, 0, 1, 0, 1, 0, 0, 0, 120, 0, 9, 10, 0, 0, 1]), /rdata of 9 bytes.*runs past the end/);
  // a PTR whose name runs out of its rdata, though the packet goes on
  refuses(packet([0, 2, 0, 0], [0, 0, 12, 0, 1, 0, 0, 0, 120, 0, 2, 1, 0x61, 0, 0, 1, 0, 1, 0, 0, 0, 120, 0, 4, 1, 2, 3, 4]), /runs past the end/);
  // a PTR whose rdata holds more than its name
  refuses(packet([0, 1, 0, 0], [0, 0, 12, 0, 1, 0, 0, 0, 120, 0, 3, 0, 0, 0]), /rdata of 3 bytes holds 1/);
  // SRV shorter than its fixed part
  refuses(packet([0, 1, 0, 0], [0, 0, 33, 0, 1, 0, 0, 0, 120, 0, 3, 0, 0, 0]), /runs past the end/);
  // a TXT string longer than the rest of its rdata
  refuses(a([5, 0x61, 0x62], TYPE.TXT), /TXT string at byte \d+ runs past its rdata/);
});

test('refused on encode: labels of 0 or 64+ bytes, names over 255 bytes, messages over 9000 bytes', () => {
  const q = (name: string[]) => ({ ...query, answers: [], questions: [{ name, type: 1, class: 1, unicastResponse: false }] });
  assert.throws(() => encodeDns(q(['a'.repeat(64)])), /label of 64 bytes/);
  assert.throws(() => encodeDns(q(['a', '', 'b'])), /label of 0 bytes/);
  assert.throws(() => encodeDns(q(Array(5).fill('a'.repeat(63)))), /longer than 255/);
  const big = rec('x.local', TYPE.TXT, { kind: 'raw', bytes: Buffer.alloc(9000, 1) });
  assert.throws(() => encodeDns({ ...announcement, answers: [big] }), /more than 9000 bytes/);
});

test.run();
