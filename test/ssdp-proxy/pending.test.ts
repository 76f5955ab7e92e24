import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PendingSearchTable } from '../../src/ssdp-proxy/pending';

function setup(max = 3) {
  const clock = { t: 5_000 };
  return { clock, table: new PendingSearchTable({ max, now: () => clock.t }) };
}
const search = (id: string, port: number, mx = 1) => ({ id, clientAddress: '192.168.1.10', clientPort: port, st: 'ssdp:all', mx, data: undefined });

test('remembers each client by address and port under its own id', () => {
  const { table } = setup();
  table.add(search('a', 40001));
  table.add(search('b', 40002));
  assert.is(table.get('a')?.clientPort, 40001);
  assert.is(table.get('b')?.clientPort, 40002);
  assert.is(table.get('c'), undefined);
});

test('an entry lives MX + 1 s, then replies for it are refused', () => {
  const { clock, table } = setup();
  table.add(search('a', 1, 3));
  clock.t += 4_000;
  assert.ok(table.get('a'));
  clock.t += 1;
  assert.is(table.get('a'), undefined);
  assert.equal(table.expire().map((e) => e.id), ['a']);
  assert.is(table.size, 0);
});

test("age: the time since the search was added (a reply's delay, for the metrics)", () => {
  const { clock, table } = setup();
  const e = table.add(search('a', 1, 3))!;
  clock.t += 1_250;
  assert.is(table.age(e), 1_250);
});

test('bounded: a full table refuses new searches, and frees room as they expire', () => {
  const { clock, table } = setup(2);
  assert.ok(table.add(search('a', 1)));
  assert.ok(table.add(search('b', 2)));
  assert.is(table.add(search('c', 3)), undefined);
  assert.is(table.add(search('a', 9)), undefined); // ids are unique too
  clock.t += 2_001;
  assert.ok(table.add(search('c', 3)));
  assert.is(table.size, 1);
});

test('an expiry inside add() hands the entry to onExpire (the socket of a remote search is closed)', () => {
  const clock = { t: 0 };
  const closed: string[] = [];
  const table = new PendingSearchTable({ max: 1, now: () => clock.t, onExpire: (e) => closed.push(e.id) });
  table.add(search('a', 1));
  clock.t += 2_001;
  assert.ok(table.add(search('b', 2)));
  assert.equal(closed, ['a']);
  table.expire();
  assert.equal(closed, ['a']); // once
});

test('a smaller max set at run time refuses new entries until the table drains', () => {
  const { clock, table } = setup(3);
  table.add(search('a', 1));
  table.add(search('b', 2));
  table.max = 1;
  assert.is(table.add(search('c', 3)), undefined);
  assert.is(table.size, 2);
  clock.t += 2_001;
  assert.ok(table.add(search('c', 3)));
});

test.run();
