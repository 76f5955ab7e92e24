// Memory back to the system after a burst. A
// flood leaves memory behind that nothing returns on its own while a daemon
// idles (measured under make fuzz's live flood, issue 15):
//   - V8's young generation grows under a high allocation rate, and the pages
//     it shrinks away from are pooled for reuse, not unmapped (udp-proxy:
//     +12 MB of 256 KB pages);
//   - malloc's arenas keep freed chunks between live ones (Node's receive
//     buffers, V8's GC threads): +3 to +8 MB, mostly free;
//   - a daemon's receive slots stay resident once large datagrams filled them
//     (udp-proxy and udp-tunnel: 4 MB each).
// A release undoes all three: the daemon's own idle buffers (its hook), a
// memory-reducing full GC (V8's "last resort" flavour, which also shrinks the
// young generation and frees pooled pages; a plain gc() does neither; the
// executables run with --expose-gc, elsewhere it is skipped), then
// malloc_trim(3), which returns free arena pages to the kernel.
//
// When: a MemoryReleaser looks every second, off the hot path, at RssAnon
// (one read of /proc/self/status). Once it is a burst (4 MiB) above its lowest
// point since the last release, it releases, at most every 5 s: memory comes
// back within seconds of a flood's end, and under a flood that lasts, the
// releases (10-50 ms each) bound what it can hold. A flood costs CPU, not memory;
// a daemon at rest or under a steady load that allocates nothing lasting
// never releases.
//
// Once, when the daemon has settled after its start (10 s): a release (the
// start leaves garbage: the bundle's compilation, parsed configuration) and
// the executable's start-up pages unmapped (exe-pages.ts). The floor is
// taken after that, not while starting: on the gateway's slow cores (and the
// emulated VM's) the start itself can grow RssAnon by more than a burst.
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { monotonicMs, type Clock } from './clock';
import { rawCalls } from './native';

type GcOptions = { type: 'major'; execution: 'sync'; flavor: 'last-resort' };

/** A full GC that gives memory back (V8 shrinks its young generation and frees pooled pages); false without --expose-gc. */
export function collectGarbage(): boolean {
  const gc = (globalThis as { gc?: (opts?: GcOptions) => void }).gc;
  if (typeof gc !== 'function') return false;
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  return true;
}

// Node receives each datagram of a dgram socket into a buffer of its own,
// outside V8's heap; V8 frees it when it collects the Buffer, which it does
// once its young generation fills (the small objects of a datagram take long
// to fill it) or external memory has grown by 64 MB. A flood of 65,507-byte
// datagrams thus held 17 MB of dead buffers at once (ssdp-proxy under make
// fuzz). A minor GC (a scavenge: about a millisecond) after every
// RECEIVED_BUDGET bytes received bounds that, and costs nothing per datagram
// but an addition.
const RECEIVED_BUDGET = 4 << 20;
let received = 0;

/** Counts a datagram Node received into a buffer of its own (a dgram 'message'). */
export function noteReceived(bytes: number): void {
  received += bytes;
  if (received < RECEIVED_BUDGET) return;
  received = 0;
  const gc = (globalThis as { gc?: (opts?: { type: 'minor' }) => void }).gc;
  if (typeof gc === 'function') gc({ type: 'minor' });
}

/** malloc_trim(0) through the native layer (loaded on first use). */
export function trimMalloc(): void {
  rawCalls().malloc_trim(0);
}

/** The process's anonymous resident memory in bytes (RssAnon), or NaN where /proc has none. */
export const anonBytes = (): number => statusBytes('RssAnon');

const STATUS_FIELDS = { RssAnon: /^RssAnon:\s+(\d+) kB/m, RssFile: /^RssFile:\s+(\d+) kB/m, VmRSS: /^VmRSS:\s+(\d+) kB/m, VmSize: /^VmSize:\s+(\d+) kB/m };

/** A field of /proc/self/status in bytes, or NaN where /proc has none. */
export function statusBytes(field: keyof typeof STATUS_FIELDS): number {
  // One buffer for every read: fs.readFileSync would allocate ~17 KB outside
  // V8's heap each second, which an idle daemon (little garbage, so no GC)
  // kept: +2 MB of RssAnon at rest on arm64 (make bench). /proc/self/status
  // is about 1.5 KB.
  let n = 0;
  try {
    const fd = fs.openSync('/proc/self/status', 'r');
    try {
      n = fs.readSync(fd, statusBuffer, 0, statusBuffer.length, 0);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return NaN;
  }
  const m = STATUS_FIELDS[field].exec(statusBuffer.toString('latin1', 0, n));
  return m ? Number(m[1]) * 1024 : NaN;
}
const statusBuffer = Buffer.alloc(8192);

export interface MemoryReleaserOptions {
  /** The release itself: the daemon's idle buffers, a GC, malloc_trim. */
  release: () => void;
  anonBytes?: () => number;
  now?: Clock;
  /** Growth over the lowest RssAnon since the last release that makes a burst (4 MiB). */
  burstBytes?: number;
  /** Releases at least this far apart (5 s). */
  minIntervalMs?: number;
  /** Once, this long after the releaser was made (10 s): a release, then `settle`. */
  settleAfterMs?: number;
  /** The settling step after that release: unmaps the executable's start-up pages; returns bytes unmapped. */
  settle?: () => number;
}

export interface ReleaseOutcome {
  before: number;
  after: number;
  ms: number;
  /** The one release when the daemon settled after its start; `unmapped` is what settle() gave back. */
  settled?: { unmapped: number };
}

export interface MemoryReleaseStatus {
  releases: number;
  /** Bytes of RssAnon given back by them, in all. */
  releasedBytes: number;
  /** Bytes of the executable's start-up pages unmapped when the daemon settled (0 until then). */
  unmappedBytes: number;
}

export class MemoryReleaser {
  private floor = NaN;
  private last = -Infinity;
  private readonly born: number;
  private settled = false;
  private readonly o: Required<MemoryReleaserOptions>;
  releases = 0;
  releasedBytes = 0;
  unmappedBytes = 0;

  constructor(opts: MemoryReleaserOptions) {
    this.o = { anonBytes, now: monotonicMs, burstBytes: 4 << 20, minIntervalMs: 5_000, settleAfterMs: 10_000, settle: () => 0, ...opts };
    this.born = this.o.now();
  }

  /** Called every second: settles once after the start, then releases after a burst; returns what it did. */
  check(): ReleaseOutcome | undefined {
    const o = this.o;
    const t = o.now();
    if (!this.settled) {
      if (t - this.born < o.settleAfterMs) return undefined;
      this.settled = true;
      const out = this.release(o.anonBytes(), t);
      const unmapped = o.settle();
      if (unmapped > 0) this.unmappedBytes += unmapped;
      return { ...out, settled: { unmapped } };
    }
    const anon = o.anonBytes();
    if (!(anon >= this.floor)) this.floor = anon; // lower, or the first good reading after NaN
    if (!(anon - this.floor >= o.burstBytes) || t - this.last < o.minIntervalMs) return undefined;
    return this.release(anon, t);
  }

  private release(anon: number, t: number): ReleaseOutcome {
    const start = performance.now();
    this.o.release();
    const after = this.o.anonBytes();
    this.last = t;
    this.floor = after;
    this.releases++;
    if (after < anon) this.releasedBytes += anon - after;
    return { before: anon, after, ms: performance.now() - start };
  }

  status(): MemoryReleaseStatus {
    return { releases: this.releases, releasedBytes: this.releasedBytes, unmappedBytes: this.unmappedBytes };
  }
}
