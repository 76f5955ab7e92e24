// Memory back to the system after a burst. A flood of new sessions leaves
// garbage in V8's old generation and freed chunks in malloc's arenas (V8's GC
// threads allocate there); neither is returned on its own while the daemon
// idles, so a flood would keep the gateway's memory for good. release() runs
// a full GC (the executables run with --expose-gc; elsewhere it is skipped)
// and malloc_trim(3), which returns free arena pages to the kernel: about
// 10 ms for a heap of a few MB, and only after a burst (the caller decides).
import { rawCalls } from './native';

export function releaseMemory(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc === 'function') gc();
  rawCalls().malloc_trim(0);
}

/**
 * Decides when a burst of churn is worth a release: after `threshold` units
 * of churn (sessions opened, say), at most every `minIntervalMs`.
 */
export class ReleaseAfterChurn {
  private churn = 0;
  private last: number;

  constructor(
    private readonly threshold: number,
    private readonly minIntervalMs: number,
    private readonly now: () => number,
  ) {
    this.last = now();
  }

  add(n = 1): void {
    this.churn += n;
  }

  /** True when a release is due now (and counts it as done). */
  due(): boolean {
    const t = this.now();
    if (this.churn < this.threshold || t - this.last < this.minIntervalMs) return false;
    this.churn = 0;
    this.last = t;
    return true;
  }
}
