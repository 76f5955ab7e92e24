// Properties of the DNS message codec (mDNS packets from anyone on a LAN, and payloads of
// relay frames): DnsError or a message for any bytes; encode then decode is the identity;
// what a mutated packet decodes to is a message the relay can encode again unchanged.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatIPv6, parseIPv6 } from '../../src/lib/ip';
import { decodeDns, encodeDns, TYPE, type DnsMessage, type DnsQuestion, type DnsRecord, type Name, type RData } from '../../src/ssdp-proxy/dns';
import { decodeOrRefuse, fc, holds, ipv4Text, ipv6Text, mutate, mutations } from '../property';

const label = fc.uint8Array({ minLength: 1, maxLength: 20 }).map((b) => Buffer.from(b).toString('latin1'));
// A few fixed labels too, so that names share suffixes and compression is exercised.
const name: fc.Arbitrary<Name> = fc.array(fc.oneof(label, fc.constantFrom('local', '_tcp', '_ipp', 'Printer A')), { maxLength: 5 });
const u16 = fc.integer({ min: 0, max: 0xffff });
const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((b) => Buffer.from(b));
const txt = fc.array(fc.uint8Array({ maxLength: 30 }), { maxLength: 4 }).map((ss) => Buffer.concat(ss.map((s) => Buffer.concat([Buffer.from([s.length]), Buffer.from(s)]))));

const rdata: fc.Arbitrary<[number, RData]> = fc.oneof(
  ipv4Text.map((a): [number, RData] => [TYPE.A, { kind: 'address', address: a }]),
  ipv6Text.map((a): [number, RData] => [TYPE.AAAA, { kind: 'address', address: formatIPv6(parseIPv6(a)) }]),
  fc.tuple(fc.constantFrom(TYPE.PTR, TYPE.CNAME, TYPE.NS, TYPE.DNAME), name).map(([t, n]): [number, RData] => [t, { kind: 'name', name: n }]),
  fc.tuple(u16, u16, u16, name).map(([priority, weight, port, target]): [number, RData] => [TYPE.SRV, { kind: 'srv', priority, weight, port, target }]),
  fc.tuple(u16, name).map(([preference, exchange]): [number, RData] => [TYPE.MX, { kind: 'mx', preference, exchange }]),
  fc.tuple(name, name, fc.uint8Array({ minLength: 20, maxLength: 20 })).map(([mname, rname, n]): [number, RData] => [TYPE.SOA, { kind: 'soa', mname, rname, numbers: Buffer.from(n) }]),
  fc.tuple(name, bytes(12)).map(([next, bitmaps]): [number, RData] => [TYPE.NSEC, { kind: 'nsec', next, bitmaps }]),
  txt.map((b): [number, RData] => [TYPE.TXT, { kind: 'raw', bytes: b }]),
  fc.tuple(fc.constantFrom(13, 41, 99, 65280), bytes(40)).map(([t, b]): [number, RData] => [t, { kind: 'raw', bytes: b }]),
);

const record: fc.Arbitrary<DnsRecord> = fc
  .tuple(name, rdata, fc.integer({ min: 0, max: 0x7fff }), fc.boolean(), fc.integer({ min: 0, max: 0xffffffff }))
  .map(([n, [type, data], cls, cacheFlush, ttl]) => ({ name: n, type, class: cls, cacheFlush, ttl, data }));
const question: fc.Arbitrary<DnsQuestion> = fc
  .tuple(name, u16, fc.integer({ min: 0, max: 0x7fff }), fc.boolean())
  .map(([n, type, cls, unicastResponse]) => ({ name: n, type, class: cls, unicastResponse }));
const section = <T>(a: fc.Arbitrary<T>) => fc.array(a, { maxLength: 6 });
export const dnsMessage: fc.Arbitrary<DnsMessage> = fc
  .tuple(u16, u16, section(question), section(record), section(record), section(record))
  .map(([id, flags, questions, answers, authorities, additionals]) => ({ id, flags, questions, answers, authorities, additionals }));

test('any datagram: DnsError or a message, never another throw', () => {
  holds(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => void decodeOrRefuse(() => decodeDns(b))), 2000);
  // a real header with small counts over random bytes reaches the name and record parsers more often
  const headed = fc.tuple(u16, fc.array(fc.nat(4), { minLength: 4, maxLength: 4 }), bytes(200)).map(([flags, counts, body]) => {
    const h = Buffer.alloc(12);
    h.writeUInt16BE(flags, 2);
    counts.forEach((c, i) => h.writeUInt16BE(c, 4 + 2 * i));
    return Buffer.concat([h, body]);
  });
  holds(fc.property(headed, (b) => void decodeOrRefuse(() => decodeDns(b))), 3000);
});

test('encode then decode gives back the message', () => {
  holds(fc.property(dnsMessage, (m) => assert.equal(decodeDns(encodeDns(m)), m)), 1000);
});

test('a mutated packet is refused, or decodes to a message that encodes and decodes to itself', () => {
  holds(
    fc.property(dnsMessage, mutations, (m, edits) => {
      const got = decodeOrRefuse(() => decodeDns(mutate(encodeDns(m), edits)));
      if (!got) return;
      // The relay re-encodes what it changed: that must work and be stable.
      const again = decodeOrRefuse(() => encodeDns(got));
      if (again) assert.equal(decodeDns(again), got);
    }),
    2000,
  );
});

test.run();
