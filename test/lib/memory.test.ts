import { execFileSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { anonBytes, MemoryReleaser, noteReceived, type MemoryReleaserOptions } from '../../src/lib/memory';

const MB = 1 << 20;

// A releaser on a fake process: RssAnon and the clock are set by the test; a
// release brings RssAnon down to `floorAfter`. Unless `settled` is false, it
// has settled a minute before t = 0 (that release is not in f.releases).
function fake(opts: Partial<MemoryReleaserOptions> = {}, settled = true) {
  const f = { anon: 12 * MB, t: settled ? -60_000 : 0, releases: 0, settles: 0, floorAfter: 12 * MB };
  const r = new MemoryReleaser({
    anonBytes: () => f.anon,
    now: () => f.t,
    release: () => {
      f.releases++;
      f.anon = f.floorAfter;
    },
    settle: () => {
      f.settles++;
      return 30 * MB;
    },
    ...(settled ? { settleAfterMs: 0 } : {}),
    ...opts,
  });
  const at = (ms: number, anonMb: number) => {
    f.t = ms;
    f.anon = anonMb * MB;
    return r.check();
  };
  if (settled) {
    assert.ok(r.check()?.settled, 'settled');
    f.releases = 0;
  }
  return { f, r, at };
}

test('once, settleAfterMs after the start: a release, then settle; the floor is taken after them', () => {
  const { f, r, at } = fake({ settleAfterMs: 10_000 }, false);
  for (let t = 1000; t < 10_000; t += 1000) assert.is(at(t, 12 + t / 1000), undefined, `starting, ${t} ms`);
  assert.is(f.releases + f.settles, 0);
  const out = at(10_000, 22); // the start grew RssAnon by 10 MB: not a burst to release again and again
  assert.equal(out?.settled, { unmapped: 30 * MB });
  assert.is(out!.before, 22 * MB);
  assert.is(out!.after, 12 * MB);
  assert.is(f.releases, 1);
  assert.is(f.settles, 1);
  for (let t = 11_000; t < 40_000; t += 1000) assert.is(at(t, 15.9), undefined, `settled, ${t} ms`);
  assert.is(f.settles, 1, 'only once');
  assert.equal(r.status(), { releases: 1, releasedBytes: 10 * MB, unmappedBytes: 30 * MB });
  assert.ok(at(40_000, 16.1), 'a burst over the floor taken when it settled');
});

test('no release while RssAnon stays within a burst of its lowest point', () => {
  const { f, at } = fake();
  for (let i = 1; i <= 30; i++) assert.is(at(i * 2000, 12 + (i % 4)), undefined);
  assert.is(f.releases, 0);
});

test('after a burst, the next check releases and reports what it gave back', () => {
  const { f, r, at } = fake();
  assert.is(at(1000, 15.9), undefined, 'less than a burst');
  const out = at(2000, 30);
  assert.ok(out);
  assert.is(out!.before, 30 * MB);
  assert.is(out!.after, 12 * MB);
  assert.is(f.releases, 1);
  assert.equal(r.status(), { releases: 2, releasedBytes: 18 * MB, unmappedBytes: 30 * MB }, 'the settling release and this one');
});

test('growth is measured from the lowest point: memory freed on its own moves the floor down', () => {
  const { f, at } = fake();
  at(2000, 8); // V8 or the allocator gave some back by itself
  assert.is(at(4000, 11.9), undefined, '12 MB again, but only 3.9 MB above the new floor');
  assert.ok(at(6000, 12.1), 'now 4.1 MB above it');
  assert.is(f.releases, 1);
});

test('what a release could not give back is the new floor: live data is not released again and again', () => {
  const { f, at } = fake();
  f.floorAfter = 20 * MB; // a table that was filled: live, not garbage
  assert.ok(at(2000, 30));
  for (let i = 2; i < 20; i++) assert.is(at(i * 2000, 21), undefined);
  assert.is(f.releases, 1);
  assert.ok(at(40_000, 25), 'a new burst on top of it');
});

test('under a flood that lasts, releases are minIntervalMs apart', () => {
  const { f, at } = fake({ minIntervalMs: 5000 });
  assert.ok(at(1000, 30));
  for (let t = 2000; t < 6000; t += 1000) assert.is(at(t, 30), undefined, `${t} ms`);
  assert.ok(at(6000, 30));
  assert.is(f.releases, 2);
});

test('no reading of RssAnon (not Linux): no release after settling', () => {
  const { f, r } = fake({ anonBytes: () => NaN });
  assert.is(r.check(), undefined);
  f.t = 100_000;
  assert.is(r.check(), undefined);
  assert.is(f.releases, 0);
});

test('anonBytes reads this process: a few MB, in bytes', () => {
  const a = anonBytes();
  assert.ok(a > MB && a < 4096 * MB, String(a));
});

test('anonBytes allocates no buffer per read (an idle daemon reads it every second)', () => {
  // In a fresh process: here, the other tests' garbage may bring a GC mid-loop.
  const script = `const { anonBytes } = require(${JSON.stringify(require.resolve('../../src/lib/memory'))});
    anonBytes();
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 100; i++) anonBytes();
    process.stdout.write(String(process.memoryUsage().arrayBuffers - before));`;
  const out = execFileSync(process.execPath, ['-r', 'esbuild-register', '-e', script], { encoding: 'utf8' });
  // fs.readFileSync of /proc/self/status: ~17 KB each, 1.8 MB for 100 reads.
  assert.ok(Number(out) < 64 * 1024, `${out} bytes outside the heap after 100 reads`);
});

test('noteReceived: a minor GC after every 4 MiB received, none before', () => {
  const g = globalThis as { gc?: unknown };
  const saved = g.gc;
  const calls: unknown[] = [];
  g.gc = (opts: unknown) => calls.push(opts);
  try {
    noteReceived(4 * MB); // whatever an earlier test left counted: start from a GC
    calls.length = 0;
    for (let i = 0; i < 63; i++) noteReceived(65507);
    assert.is(calls.length, 0, '63 datagrams of 65,507 bytes: 3.9 MiB');
    noteReceived(65507);
    noteReceived(65507);
    assert.equal(calls, [{ type: 'minor' }]);
  } finally {
    g.gc = saved;
  }
});

test.run();
