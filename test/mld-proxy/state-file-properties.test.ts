// Properties of mld-proxy's state file (read at start, maybe damaged or hand-edited) and of
// the neighbour table text it reads from `ip -j neigh`: refuse with InputError or decode,
// round-trip, and a mutated file is refused or gives entries the table takes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatIPv6, parseIPv6 } from '../../src/lib/ip';
import { parseNeighbourJson } from '../../src/mld-proxy/neighbours';
import { decodeStateFile, encodeStateFile, type StateEntry } from '../../src/mld-proxy/state-file';
import { AddressTable } from '../../src/mld-proxy/table';
import { anyJsonText, decodeOrRefuse, fc, holds, ipv6Text, mutate, mutations } from '../property';

const ifname = fc.stringMatching(/^[a-z][a-z0-9.]{0,14}$/).filter((n) => n !== '.' && n !== '..');
const entry: fc.Arbitrary<StateEntry> = fc.record({
  address: ipv6Text.map((a) => formatIPv6(parseIPv6(a))),
  interface: ifname,
  lastSeen: fc.integer({ min: 0, max: 2 ** 45 }),
}, { noNullPrototype: true });
const stateFile = fc.record({ entries: fc.array(entry, { maxLength: 8 }), savedAt: fc.integer({ min: 0, max: 2 ** 45 }) });

test('any text: InputError or a state file, never another throw', () => {
  holds(fc.property(anyJsonText, (t) => void decodeOrRefuse(() => decodeStateFile(t))), 1000);
  const shaped = fc.record({ version: fc.constantFrom(1, 2, '1'), savedAt: fc.jsonValue(), entries: fc.array(fc.dictionary(fc.constantFrom('address', 'interface', 'lastSeen', 'x'), fc.jsonValue({ maxDepth: 1 })), { maxLength: 3 }) });
  holds(fc.property(shaped, (d) => void decodeOrRefuse(() => decodeStateFile(JSON.stringify(d)))), 1000);
});

test('encode then decode gives back the entries', () => {
  holds(
    fc.property(stateFile, ({ entries, savedAt }) => {
      assert.equal(decodeStateFile(encodeStateFile(entries, savedAt)), { version: 1, savedAt, entries });
    }),
  );
});

test('a mutated state file is refused, or restores into the table', () => {
  holds(
    fc.property(stateFile, mutations, ({ entries, savedAt }, edits) => {
      const text = mutate(Buffer.from(encodeStateFile(entries, savedAt)), edits).toString('utf8');
      const state = decodeOrRefuse(() => decodeStateFile(text));
      if (!state) return;
      const table = new AddressTable({ now: () => savedAt, maxAddresses: 16 });
      table.restore(state.entries); // throws on anything the table cannot take
      for (const e of table.snapshot()) assert.is(formatIPv6(parseIPv6(e.address)), e.address);
    }),
    1000,
  );
});

test('neighbour table text: InputError or entries with canonical addresses', () => {
  const neigh = fc.array(fc.record({ dst: fc.oneof(ipv6Text, fc.string()), state: fc.option(fc.array(fc.constantFrom('REACHABLE', 'STALE', 'PROBE', 'x', 5)), { nil: undefined }) }), { maxLength: 4 });
  holds(
    fc.property(fc.oneof(neigh.map((n) => JSON.stringify(n)), anyJsonText), (t) => {
      for (const e of decodeOrRefuse(() => parseNeighbourJson(t)) ?? []) assert.is(formatIPv6(e.bytes), e.address);
    }),
    1000,
  );
});

test.run();
