// Properties of the SSDP message parser (datagrams from anyone on a LAN, and payloads of
// relay frames): SsdpParseError or a message; serialize then parse gives it back; what
// parses is a message the proxy can relay and parse again unchanged.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MAX_SSDP_BYTES, parseSsdp, searchWaitSeconds, serializeSsdp, type SsdpMessage } from '../../src/ssdp-proxy/message';
import { decodeOrRefuse, fc, holds, mutate, mutations } from '../property';

const token = fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,20}$/);
// Header values: any latin1 text without CR, LF or NUL, no surrounding whitespace (parse trims it).
const value = fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 60 }).map((v) => v.trim());
const ssdpMessage: fc.Arbitrary<SsdpMessage> = fc.record(
  {
    kind: fc.constantFrom('search', 'notify', 'response'),
    startLine: fc.constant(''),
    headers: fc.array(fc.tuple(token, value), { maxLength: 12 }),
  },
  { noNullPrototype: true },
).map((m) => ({
  ...m,
  startLine: m.kind === 'search' ? 'M-SEARCH * HTTP/1.1' : m.kind === 'notify' ? 'NOTIFY * HTTP/1.1' : 'HTTP/1.1 200 OK',
  headers: m.headers.map(([k, v]) => [k, v] as [string, string]),
})) as fc.Arbitrary<SsdpMessage>;

function relayable(m: SsdpMessage): void {
  assert.ok(['search', 'notify', 'response'].includes(m.kind));
  const again = parseSsdp(serializeSsdp(m));
  assert.equal(again, m);
  const mx = searchWaitSeconds(m);
  assert.ok(Number.isInteger(mx) && mx >= 1 && mx <= 5);
}

test('any datagram: SsdpParseError or a message, never another throw', () => {
  holds(fc.property(fc.uint8Array({ maxLength: 400 }), (b) => void decodeOrRefuse(() => parseSsdp(b))), 2000);
  const lines = fc.array(fc.oneof(fc.constantFrom('M-SEARCH * HTTP/1.1', 'HTTP/1.1 200 OK', 'MX: 3', 'ST: ssdp:all', '', ':', 'X'), fc.string({ maxLength: 30 })), { maxLength: 8 });
  holds(fc.property(lines, fc.constantFrom('\r\n', '\n', '\r'), (l, eol) => void decodeOrRefuse(() => parseSsdp(Buffer.from(l.join(eol), 'latin1')))), 2000);
  decodeOrRefuse(() => parseSsdp(Buffer.alloc(MAX_SSDP_BYTES + 1, 0x41)));
});

test('serialize then parse gives back the message', () => {
  holds(fc.property(ssdpMessage, (m) => assert.equal(parseSsdp(serializeSsdp(m)), m)), 1000);
});

test('a mutated message is refused, or parses to one the proxy relays unchanged', () => {
  holds(
    fc.property(ssdpMessage, mutations, (m, edits) => {
      const parsed = decodeOrRefuse(() => parseSsdp(mutate(serializeSsdp(m), edits)));
      if (parsed) relayable(parsed);
    }),
    2000,
  );
});

test.run();
