// The digests of the packets we multicast on our LANs in the last moments. Our
// own multicast comes back to our group socket (IP_MULTICAST_LOOP), and a
// reflector on the router may send it again byte for byte: either way it is
// ours, and must never be relayed again (that would be a loop). A small ring:
// a copy comes back within milliseconds, so a second is plenty, and a host
// that happens to send the same bytes later is not mistaken for us.
import crypto from 'node:crypto';

export class RecentDigests {
  private ring: { digest: string; at: number }[] = [];
  private next = 0;

  constructor(
    private readonly size = 64,
    private readonly ttlMs = 2000,
    private readonly now: () => number = Date.now,
  ) {}

  private static digest(b: Uint8Array): string {
    return crypto.createHash('sha256').update(b).digest('base64');
  }

  add(packet: Uint8Array): void {
    this.ring[this.next] = { digest: RecentDigests.digest(packet), at: this.now() };
    this.next = (this.next + 1) % this.size;
  }

  has(packet: Uint8Array): boolean {
    if (!this.ring.length) return false;
    const d = RecentDigests.digest(packet);
    const t = this.now();
    return this.ring.some((e) => e.digest === d && t - e.at <= this.ttlMs && t >= e.at);
  }
}
