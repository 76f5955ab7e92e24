import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PendingSearchTable } from '../src/ssdp-proxy/pending';

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

test.run();
