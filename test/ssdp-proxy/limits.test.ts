import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ExpiringMap } from '../../src/ssdp-proxy/expiring-map';
import { TokenBucket } from '../../src/ssdp-proxy/rate-limit';

test('ExpiringMap: entries live their TTL, a refresh extends it, the oldest goes past the bound', () => {
  const clock = { t: 0 };
  const m = new ExpiringMap<number>(3, () => clock.t);
  m.set('a', 1, 1000);
  m.set('b', 2, 5000);
  clock.t = 999;
  assert.is(m.get('a'), 1);
  m.set('a', 1, 1000); // refreshed: now the newest
  clock.t = 1500;
  assert.ok(m.has('a') && m.has('b'));
  m.set('c', 3, 5000);
  m.set('d', 4, 5000); // evicts b, the one set longest ago
  assert.not.ok(m.has('b'));
  assert.is(m.size, 3);
  clock.t = 2000;
  m.expire();
  assert.is(m.size, 2);
  assert.not.ok(m.has('a'));
});

test('TokenBucket: a burst, then the rate; a clock stepped back adds nothing', () => {
  const clock = { t: 10_000 };
  const b = new TokenBucket(10, 20, () => clock.t);
  let passed = 0;
  for (let i = 0; i < 100; i++) if (b.take()) passed++;
  assert.is(passed, 20);
  clock.t += 1000;
  passed = 0;
  for (let i = 0; i < 100; i++) if (b.take()) passed++;
  assert.is(passed, 10);
  clock.t -= 3_600_000;
  assert.not.ok(b.take());
  clock.t += 3_600_000 * 2; // forward an hour past where it was: a full bucket, no more
  passed = 0;
  for (let i = 0; i < 100; i++) if (b.take()) passed++;
  assert.is(passed, 20);
});

test.run();
