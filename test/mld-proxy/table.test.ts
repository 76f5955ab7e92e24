import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseIPv6 } from '../../src/lib/ip';
import { AddressTable, type TouchResult } from '../../src/mld-proxy/table';

const MIN = 60_000;
const T0 = 1_700_000_000_000;

function fakeClock(start = T0) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

function added(r: TouchResult) {
  assert.is(r.status, 'added');
  return r as Extract<TouchResult, { status: 'added' }>;
}

test('adds, refreshes and reports the solicited-node group', () => {
  const clock = fakeClock();
  const table = new AddressTable({ now: clock.now });
  assert.is(table.timeoutMs, 1_800_000);
  assert.is(table.maxAddresses, 4096);
  const r = added(table.touch(parseIPv6('2001:DB8::1234:5678'), 'br0'));
  assert.is(r.join, true);
  assert.equal(r.entry, { address: '2001:db8::1234:5678', group: 'ff02::1:ff34:5678', interface: 'br0', lastSeen: T0, joined: false, source: 'ndp' });
  clock.advance(MIN);
  const again = table.touch('2001:db8::1234:5678', 'br10', 'neigh');
  assert.is(again.status, 'refreshed');
  assert.equal(table.get('2001:db8::1234:5678'), { ...r.entry, interface: 'br10', lastSeen: T0 + MIN, source: 'neigh' });
  assert.is(table.size, 1);
});

test('expires after timeoutMs of silence, not before', () => {
  const clock = fakeClock();
  const table = new AddressTable({ now: clock.now, timeoutMs: 10 * MIN });
  table.touch('2001:db8::1', 'br0');
  clock.advance(5 * MIN);
  table.touch('2001:db8::2', 'br0');
  assert.is(table.nextExpiry(), T0 + 10 * MIN);
  clock.advance(5 * MIN - 1);
  assert.equal(table.expire(), []);
  clock.advance(1);
  const gone = table.expire();
  assert.equal(gone.map((e) => [e.address, e.leave]), [['2001:db8::1', true]]);
  assert.is(table.size, 1);
  assert.is(table.nextExpiry(), T0 + 15 * MIN);
  // An explicit now wins over the clock.
  assert.equal(table.expire(T0 + 15 * MIN).map((e) => e.address), ['2001:db8::2']);
  assert.is(table.nextExpiry(), undefined);
});

test('a refresh restarts the lifetime', () => {
  const clock = fakeClock();
  const table = new AddressTable({ now: clock.now, timeoutMs: 10 * MIN });
  table.touch('2001:db8::1', 'br0');
  clock.advance(9 * MIN);
  table.touch('2001:db8::1', 'br0');
  clock.advance(9 * MIN);
  assert.equal(table.expire(), []);
  clock.advance(MIN);
  assert.is(table.expire().length, 1);
});

test('groups are reference-counted: join on the first address, leave after the last', () => {
  const clock = fakeClock();
  const table = new AddressTable({ now: clock.now, timeoutMs: 10 * MIN });
  // Same low 24 bits, so the same solicited-node group.
  const a = added(table.touch('2001:db8::aa:1234:5678', 'br0'));
  clock.advance(MIN);
  const b = added(table.touch('2001:db8::bb:1234:5678', 'br0'));
  assert.is(a.join, true);
  assert.is(b.join, false);
  assert.is(a.entry.group, b.entry.group);
  assert.equal(table.groups(), [{ group: 'ff02::1:ff34:5678', addresses: 2, joined: false }]);

  assert.equal(table.unjoinedGroups(), ['ff02::1:ff34:5678']);
  table.setJoined('ff02::1:ff34:5678', true);
  assert.equal(table.unjoinedGroups(), []);
  assert.ok(table.snapshot().every((e) => e.joined));

  clock.advance(9 * MIN);
  const first = table.expire();
  assert.equal(first.map((e) => [e.address, e.leave, e.joined]), [['2001:db8::aa:1234:5678', false, true]]);
  assert.equal(table.groups(), [{ group: 'ff02::1:ff34:5678', addresses: 1, joined: true }]);
  clock.advance(MIN);
  const last = table.expire();
  assert.equal(last.map((e) => [e.address, e.leave, e.joined]), [['2001:db8::bb:1234:5678', true, true]]);
  assert.equal(table.groups(), []);

  // The group comes back as a new join.
  assert.is(added(table.touch('2001:db8::cc:1234:5678', 'br0')).join, true);
  assert.is(table.get('2001:db8::cc:1234:5678')!.joined, false);
});

test('remove, clear and resetJoined report leaves and rejoins', () => {
  const table = new AddressTable({ now: () => T0 });
  table.touch('2001:db8::1', 'br0');
  table.touch('2001:db8:1::1', 'br0');
  table.touch('2001:db8::2', 'br0');
  table.setJoined('ff02::1:ff00:1', true);
  table.setJoined('ff02::1:ff00:2', true);
  table.setJoined('ff02::1:ff00:99', true); // unknown group: ignored
  assert.equal(table.resetJoined(), ['ff02::1:ff00:1', 'ff02::1:ff00:2']);
  assert.equal(table.unjoinedGroups(), ['ff02::1:ff00:1', 'ff02::1:ff00:2']);
  assert.is(table.remove('2001:db8::1')!.leave, false);
  assert.is(table.remove(parseIPv6('2001:db8:1::1'))!.leave, true);
  assert.is(table.remove('2001:db8::1'), undefined);
  assert.equal(table.clear().map((e) => [e.address, e.leave]), [['2001:db8::2', true]]);
  assert.is(table.size, 0);
});

test('past maxAddresses new addresses are refused, known ones still refresh', () => {
  const clock = fakeClock();
  const table = new AddressTable({ now: clock.now, maxAddresses: 2 });
  table.touch('2001:db8::1', 'br0');
  table.touch('2001:db8::2', 'br0');
  assert.equal(table.touch('2001:db8::3', 'br0'), { status: 'refused', address: '2001:db8::3' });
  assert.is(table.size, 2);
  clock.advance(MIN);
  assert.is(table.touch('2001:db8::1', 'br0').status, 'refreshed');
  assert.is(table.get('2001:db8::1')!.lastSeen, T0 + MIN);
  table.remove('2001:db8::2');
  assert.is(table.touch('2001:db8::3', 'br0').status, 'added');
});

test('restore keeps the remaining lifetime and drops expired entries', () => {
  const table = new AddressTable({ now: () => T0, timeoutMs: 30 * MIN });
  const r = table.restore([
    { address: '2001:db8::1', interface: 'br0', lastSeen: T0 - 29 * MIN },
    { address: '2001:db8::2', interface: 'br2', lastSeen: T0 - 30 * MIN },
    { address: '2001:db8::3', interface: 'br0', lastSeen: T0 - 45 * MIN },
    { address: '2001:db8:1::1', interface: 'br0', lastSeen: T0 - MIN },
  ]);
  assert.equal(r, { restored: 2, expired: 2, refused: 0, join: ['ff02::1:ff00:1'] });
  assert.equal(table.get('2001:db8::1'), { address: '2001:db8::1', group: 'ff02::1:ff00:1', interface: 'br0', lastSeen: T0 - 29 * MIN, joined: false, source: 'state' });
  assert.is(table.nextExpiry(), T0 + MIN);
  assert.equal(table.expire(T0 + MIN).map((e) => [e.address, e.leave]), [['2001:db8::1', false]]);
  assert.equal(table.expire(T0 + 29 * MIN).map((e) => [e.address, e.leave]), [['2001:db8:1::1', true]]);
});

test('restore clamps future timestamps, keeps the freshest under the bound, merges duplicates', () => {
  const table = new AddressTable({ now: () => T0, timeoutMs: 30 * MIN, maxAddresses: 2 });
  table.touch('2001:db8::9', 'br0', 'ndp', T0 - 20 * MIN);
  const r = table.restore([
    { address: '2001:db8::1', interface: 'br0', lastSeen: T0 - 10 * MIN },
    { address: '2001:db8::2', interface: 'br0', lastSeen: T0 + 365 * 24 * 60 * MIN },
    { address: '2001:db8::9', interface: 'br0', lastSeen: T0 - 5 * MIN },
  ]);
  assert.equal(r, { restored: 1, expired: 0, refused: 1, join: ['ff02::1:ff00:2'] });
  assert.is(table.get('2001:db8::2')!.lastSeen, T0, 'future lastSeen counts as now');
  assert.is(table.get('2001:db8::9')!.lastSeen, T0 - 5 * MIN, 'newer saved time wins');
  assert.is(table.get('2001:db8::1'), undefined);
});

test('snapshot is sorted copies', () => {
  const table = new AddressTable({ now: () => T0 });
  table.touch('2001:db8::b', 'br0');
  table.touch('2001:db8::a', 'br0');
  const snap = table.snapshot();
  assert.equal(snap.map((e) => e.address), ['2001:db8::a', '2001:db8::b']);
  snap[0].lastSeen = 0;
  assert.is(table.get('2001:db8::a')!.lastSeen, T0);
});

test('options are validated', () => {
  assert.throws(() => new AddressTable({ timeoutMs: 0 }), /timeoutMs must be a positive number, got 0/);
  assert.throws(() => new AddressTable({ maxAddresses: 1.5 }), /maxAddresses must be a positive integer, got 1.5/);
});

test.run();
