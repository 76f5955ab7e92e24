import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SessionTable } from '../../src/udp-proxy/session-table';

function setup(max = 3, idle = 10_000) {
  const clock = { t: 1_000 };
  const table = new SessionTable<string>({ idleTimeoutMs: idle, maxSessions: max, now: () => clock.t });
  return { clock, table };
}

const keys = (t: SessionTable<string>) => t.entries().map((e) => e.value);

test('finds sessions by address and port', () => {
  const { table } = setup();
  table.add('10.0.0.1', 1000, 'a');
  table.add('10.0.0.1', 1001, 'b');
  table.add('2001:db8::1', 1000, 'c');
  assert.is(table.get('10.0.0.1', 1001)?.value, 'b');
  assert.is(table.get('2001:db8::1', 1000)?.value, 'c');
  assert.is(table.get('10.0.0.1', 1002), undefined);
  assert.is(table.get('10.0.0.2', 1000), undefined);
  assert.is(table.size, 3);
  assert.throws(() => table.add('10.0.0.1', 1000, 'x'), /exists already/);
});

test('idle sessions expire, used ones stay', () => {
  const { clock, table } = setup(10, 10_000);
  const a = table.add('10.0.0.1', 1, 'a').entry;
  clock.t += 4_000;
  table.add('10.0.0.2', 1, 'b');
  clock.t += 4_000;
  table.touch(a);
  clock.t += 5_999; // b idle 9999 ms, a idle 5999 ms
  assert.equal(table.expire(), []);
  clock.t += 1; // b idle exactly the timeout
  assert.equal(table.expire().map((e) => e.value), ['b']);
  assert.equal(keys(table), ['a']);
  clock.t += 4_000;
  assert.equal(table.expire().map((e) => e.value), ['a']);
  assert.is(table.size, 0);
  assert.is(table.get('10.0.0.1', 1), undefined);
});

test('past maxSessions the least recently used session is evicted', () => {
  const { clock, table } = setup(3);
  const a = table.add('10.0.0.1', 1, 'a').entry;
  clock.t++;
  table.add('10.0.0.2', 1, 'b');
  clock.t++;
  table.add('10.0.0.3', 1, 'c');
  table.touch(a); // b is now the least recently used
  const r = table.add('10.0.0.4', 1, 'd');
  assert.is(r.evicted?.value, 'b');
  assert.is(table.size, 3);
  assert.equal(keys(table), ['d', 'a', 'c']);
  assert.is(table.get('10.0.0.2', 1), undefined);
  assert.is(table.add('10.0.0.5', 1, 'e').evicted?.value, 'c');
});

test('a bound of one keeps only the newest', () => {
  const { table } = setup(1);
  table.add('10.0.0.1', 1, 'a');
  assert.is(table.add('10.0.0.1', 2, 'b').evicted?.value, 'a');
  assert.equal(keys(table), ['b']);
});

test('delete and clear unlink everything', () => {
  const { table } = setup(5);
  const a = table.add('10.0.0.1', 1, 'a').entry;
  const b = table.add('10.0.0.1', 2, 'b').entry;
  table.add('10.0.0.1', 3, 'c');
  assert.ok(table.delete(b));
  assert.not.ok(table.delete(b), 'twice is harmless');
  assert.equal(keys(table), ['c', 'a']);
  table.touch(a);
  assert.equal(keys(table), ['a', 'c']);
  assert.equal(table.clear().map((e) => e.value), ['a', 'c']);
  assert.is(table.size, 0);
  assert.equal(table.expire(), []);
  table.add('10.0.0.1', 1, 'again');
  assert.equal(keys(table), ['again']);
});

test('a clock stepped backwards expires nothing early', () => {
  const { clock, table } = setup(5, 1000);
  table.add('10.0.0.1', 1, 'a');
  clock.t -= 60_000;
  assert.equal(table.expire(), []);
  assert.is(table.size, 1);
});

test.run();
