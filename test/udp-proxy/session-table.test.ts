import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sockAddr } from '../../src/lib/sockaddr';
import { clientKey, SessionTable } from '../../src/udp-proxy/session-table';

// The table keyed by text, as the tests think of it; the daemon passes words.
class Table {
  readonly t: SessionTable<string>;
  constructor(opts: ConstructorParameters<typeof SessionTable<string>>[0]) {
    this.t = new SessionTable<string>(opts);
  }
  private w(a: string) {
    const s = sockAddr(a, 0);
    return [s.w0, s.w1, s.w2, s.w3] as const;
  }
  add(a: string, port: number, v: string) {
    return this.t.add(...this.w(a), port, v);
  }
  get(a: string, port: number) {
    return this.t.get(...this.w(a), port);
  }
}

function setup(max = 3, idle = 10_000, perClient?: number) {
  const clock = { t: 1_000 };
  const table = new Table({ idleTimeoutMs: idle, maxSessions: max, maxPerClient: perClient, now: () => clock.t });
  return { clock, table, t: table.t };
}

const keys = (t: SessionTable<string>) => t.entries().map((e) => e.value);

test('finds sessions by address and port', () => {
  const { table, t } = setup();
  table.add('10.0.0.1', 1000, 'a');
  table.add('10.0.0.1', 1001, 'b');
  table.add('2001:db8::1', 1000, 'c');
  assert.is(table.get('10.0.0.1', 1001)?.value, 'b');
  assert.is(table.get('2001:db8::1', 1000)?.value, 'c');
  assert.is(table.get('::ffff:10.0.0.1', 1001)?.value, 'b', 'IPv4 and its mapped form are one client');
  assert.is(table.get('10.0.0.1', 1002), undefined);
  assert.is(table.get('10.0.0.2', 1000), undefined);
  assert.is(table.get('2001:db8::2', 1000), undefined);
  assert.is(t.size, 3);
  assert.is(t.clientCount, 2);
  assert.throws(() => table.add('10.0.0.1', 1000, 'x'), /exists already/);
});

test('client keys: IPv4 is its own address, IPv6 a hash above 2^32', () => {
  const v4 = sockAddr('10.0.0.1', 0);
  assert.is(clientKey(v4.w0, v4.w1, v4.w2, v4.w3), 0x0a000001);
  const a = sockAddr('2001:db8::1', 0);
  const b = sockAddr('2001:db8::2', 0);
  const ka = clientKey(a.w0, a.w1, a.w2, a.w3);
  assert.ok(ka >= 2 ** 32 && Number.isSafeInteger(ka));
  assert.is.not(ka, clientKey(b.w0, b.w1, b.w2, b.w3));
});

test('clients whose keys collide are told apart word by word', () => {
  const t = new SessionTable<string>({ idleTimeoutMs: 1000, maxSessions: 10, maxPerClient: 2, keyOf: () => 42 });
  t.add(0x20010db8, 0, 0, 1, 7, 'one');
  t.add(0x20010db8, 0, 0, 2, 7, 'two');
  t.add(0x20010db8, 0, 0, 3, 7, 'three');
  assert.equal([1, 2, 3].map((w) => t.get(0x20010db8, 0, 0, w, 7)?.value), ['one', 'two', 'three']);
  assert.is(t.clientCount, 3);
  t.add(0x20010db8, 0, 0, 2, 8, 'two-b');
  assert.is(t.add(0x20010db8, 0, 0, 2, 9, 'two-c').evicted?.value, 'two', 'the bound is per address, not per key');
  assert.ok(t.delete(t.get(0x20010db8, 0, 0, 3, 7)!), 'the head of a chain');
  assert.ok(t.delete(t.get(0x20010db8, 0, 0, 1, 7)!), 'the tail of a chain');
  assert.is(t.get(0x20010db8, 0, 0, 2, 8)?.value, 'two-b');
  assert.is(t.clientCount, 1);
});

test('idle sessions expire, used ones stay', () => {
  const { clock, table, t } = setup(10, 10_000);
  const a = table.add('10.0.0.1', 1, 'a').entry;
  clock.t += 4_000;
  table.add('10.0.0.2', 1, 'b');
  clock.t += 4_000;
  t.touch(a);
  clock.t += 5_999; // b idle 9999 ms, a idle 5999 ms
  assert.equal(t.expire(), []);
  clock.t += 1; // b idle exactly the timeout
  assert.equal(t.expire().map((e) => e.value), ['b']);
  assert.equal(keys(t), ['a']);
  clock.t += 4_000;
  assert.equal(t.expire().map((e) => e.value), ['a']);
  assert.is(t.size, 0);
  assert.is(t.clientCount, 0);
  assert.is(table.get('10.0.0.1', 1), undefined);
});

test('past maxSessions the least recently used session is evicted', () => {
  const { clock, table, t } = setup(3);
  const a = table.add('10.0.0.1', 1, 'a').entry;
  clock.t++;
  table.add('10.0.0.2', 1, 'b');
  clock.t++;
  table.add('10.0.0.3', 1, 'c');
  t.touch(a); // b is now the least recently used
  const r = table.add('10.0.0.4', 1, 'd');
  assert.is(r.evicted?.value, 'b');
  assert.is(r.reason, 'maxSessions');
  assert.is(t.size, 3);
  assert.equal(keys(t), ['d', 'a', 'c']);
  assert.is(table.get('10.0.0.2', 1), undefined);
  assert.is(table.add('10.0.0.5', 1, 'e').evicted?.value, 'c');
});

test('past maxPerClient a client evicts only its own least recently used session', () => {
  const { table, t } = setup(10, 10_000, 3);
  table.add('10.0.0.9', 1, 'other-1');
  table.add('10.0.0.9', 2, 'other-2');
  const first = table.add('10.0.0.1', 100, 'f100').entry;
  table.add('10.0.0.1', 101, 'f101');
  table.add('10.0.0.1', 102, 'f102');
  t.touch(first); // 101 is now that client's least recently used
  const evicted: string[] = [];
  for (let p = 103; p < 110; p++) {
    const r = table.add('10.0.0.1', p, `f${p}`);
    assert.is(r.reason, 'maxPerClient');
    evicted.push(r.evicted!.value);
  }
  assert.equal(evicted, ['f101', 'f102', 'f100', 'f103', 'f104', 'f105', 'f106']);
  assert.is(table.get('10.0.0.9', 1)?.value, 'other-1', 'the other host keeps its sessions');
  assert.is(table.get('10.0.0.9', 2)?.value, 'other-2');
  assert.is(t.size, 5);
});

test('a bound of one keeps only the newest', () => {
  const { table, t } = setup(1);
  table.add('10.0.0.1', 1, 'a');
  assert.is(table.add('10.0.0.1', 2, 'b').evicted?.value, 'a');
  assert.equal(keys(t), ['b']);
});

test('delete and clear unlink everything', () => {
  const { table, t } = setup(5);
  const a = table.add('10.0.0.1', 1, 'a').entry;
  const b = table.add('10.0.0.1', 2, 'b').entry;
  table.add('10.0.0.1', 3, 'c');
  assert.ok(t.delete(b));
  assert.not.ok(t.delete(b), 'twice is harmless');
  assert.equal(keys(t), ['c', 'a']);
  t.touch(a);
  assert.equal(keys(t), ['a', 'c']);
  assert.equal(t.clear().map((e) => e.value), ['a', 'c']);
  assert.is(t.size, 0);
  assert.is(t.clientCount, 0);
  assert.equal(t.expire(), []);
  table.add('10.0.0.1', 1, 'again');
  assert.equal(keys(t), ['again']);
});

test('a clock stepped backwards expires nothing early', () => {
  const { clock, table, t } = setup(5, 1000);
  table.add('10.0.0.1', 1, 'a');
  clock.t -= 60_000;
  assert.equal(t.expire(), []);
  assert.is(t.size, 1);
});

test.run();
