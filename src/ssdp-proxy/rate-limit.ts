// A token bucket: `rate` packets a second on average, bursts of up to `burst`.
// One per LAN and one per peer for mDNS, so one chatty or hostile source costs
// the relay and the VPN a bounded amount, and the others keep theirs.
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    public rate: number,
    public burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /** True if a packet may pass now (and takes its token). */
  take(): boolean {
    const t = this.now();
    // A clock stepped back adds nothing; one stepped forward fills the bucket at most.
    this.tokens = Math.min(this.burst, this.tokens + (Math.max(0, t - this.last) / 1000) * this.rate);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
