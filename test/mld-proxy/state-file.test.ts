import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeStateFile, encodeStateFile } from '../../src/mld-proxy/state-file';
import { AddressTable } from '../../src/mld-proxy/table';

const T0 = 1_700_000_000_000;

test('round-trips a table snapshot', () => {
  const table = new AddressTable({ now: () => T0 });
  table.touch('2001:db8::1', 'br0');
  table.touch('2001:db8::2', 'br10', 'neigh', T0 - 5);
  const text = encodeStateFile(table.snapshot(), T0 + 1);
  assert.ok(text.endsWith('\n'));
  assert.equal(JSON.parse(text), {
    version: 1,
    savedAt: T0 + 1,
    entries: [
      { address: '2001:db8::1', interface: 'br0', lastSeen: T0 },
      { address: '2001:db8::2', interface: 'br10', lastSeen: T0 - 5 },
    ],
  });
  assert.equal(decodeStateFile(text), JSON.parse(text));
});

test('canonicalises addresses and ignores unknown keys', () => {
  const doc = { version: 1, savedAt: 5, extra: true, entries: [{ address: '2001:DB8:0::1', interface: 'br0', lastSeen: 1, note: 'x' }] };
  assert.equal(decodeStateFile(JSON.stringify(doc)), { version: 1, savedAt: 5, entries: [{ address: '2001:db8::1', interface: 'br0', lastSeen: 1 }] });
  assert.equal(decodeStateFile('{"version":1,"savedAt":0,"entries":[]}').entries, []);
});

test('every bad field is named', () => {
  const good = { address: '2001:db8::1', interface: 'br0', lastSeen: T0 };
  const file = (over: object) => JSON.stringify({ version: 1, savedAt: T0, entries: [good], ...over });
  const entry = (over: object) => file({ entries: [good, { ...good, ...over }] });
  const cases: [string, RegExp][] = [
    ['', /state file is not valid JSON/],
    ['{"version":1,', /state file is not valid JSON/],
    ['[]', /state file must hold a JSON object, got an array/],
    ['null', /must hold a JSON object, got null/],
    [file({ version: 2 }), /state file version: expected 1, got 2/],
    [file({ version: '1' }), /version: expected 1, got "1"/],
    [file({ savedAt: -1 }), /state file savedAt: must be a non-negative integer \(ms since the epoch\), got -1/],
    [file({ savedAt: 1.5 }), /savedAt: .* got 1.5/],
    [file({ savedAt: undefined }), /savedAt: .* got undefined/],
    [file({ entries: {} }), /state file entries: must be an array, got object/],
    [file({ entries: [good, 7] }), /state file entries\[1\]: must be an object, got 7/],
    [entry({ address: 5 }), /entries\[1\].address: must be an IPv6 address string, got 5/],
    [entry({ address: '192.0.2.1' }), /entries\[1\].address: "192.0.2.1" is not an IPv6 address/],
    [entry({ address: 'fe80::1%br0' }), /entries\[1\].address: .*zone index/],
    [entry({ interface: '' }), /entries\[1\].interface: interface name must be 1 to 15 bytes, got ""/],
    [entry({ interface: 'a-very-long-name0' }), /interface name must be 1 to 15 bytes/],
    [entry({ interface: 'br0/x' }), /entries\[1\].interface: "br0\/x" is not a valid interface name/],
    [entry({ interface: 'br 0' }), /is not a valid interface name/],
    [entry({ interface: '..' }), /is not a valid interface name/],
    [entry({ interface: null }), /entries\[1\].interface: must be an interface name string, got null/],
    [entry({ lastSeen: '5' }), /entries\[1\].lastSeen: must be a non-negative integer .* got "5"/],
    [entry({ lastSeen: 2 ** 60 }), /entries\[1\].lastSeen: must be a non-negative integer/],
  ];
  for (const [text, re] of cases) assert.throws(() => decodeStateFile(text), re, text);
});

test.run();
