// Our own relay address toward each peer: the sender of every frame we send it,
// and the recipient every frame from it must name (frame.ts). It is the source
// address the kernel picks for the route to the peer, which is the address the
// peer knows us by (`--peer` names a site by the address it sends from). A UDP
// connect() does that route lookup and sends nothing; without a route (the VPN
// is not up yet) there is no address, and nothing can be sent to that peer.
import dgram from 'node:dgram';
import { monotonicMs } from '../lib/clock';
import { formatIPv4, formatIPv6, isIPv4, parseIPv4, parseIPv6 } from '../lib/ip';

export type LocalAddressFor = (peer: string) => Promise<string | undefined>;

const canonical = (a: string): string => (isIPv4(a) ? formatIPv4(parseIPv4(a)) : formatIPv6(parseIPv6(a)));

/** The kernel's source address for datagrams to `peer`, or undefined when it has no route. */
export function kernelSourceAddress(peer: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = dgram.createSocket({
      type: peer.includes(':') ? 'udp6' : 'udp4',
      lookup: (address, _family, cb) => cb(null, address, address.includes(':') ? 6 : 4),
    });
    const done = (address?: string) => {
      try {
        s.close();
      } catch {}
      resolve(address);
    };
    s.on('error', () => done());
    // Node hands a failed connect (no route) to the callback, though its type says nothing of it.
    s.connect(9, peer, ((err?: Error) => {
      if (err) return done();
      try {
        done(canonical(s.address().address));
      } catch {
        done();
      }
    }) as () => void);
  });
}

export interface RelayAddressChange {
  peer: string;
  /** undefined: no route to the peer now. */
  address?: string;
  previous?: string;
}

export class RelayAddresses {
  /** null: looked up, no route (absent: never looked up, so the first lookup always reports). */
  private ours = new Map<string, string | null>();
  private lastRefresh = -Infinity;
  private running?: Promise<RelayAddressChange[]>;

  constructor(
    private readonly lookup: LocalAddressFor,
    /** Monotonic: on the wall clock a step back would hold refreshSoon off for that long. */
    private readonly now: () => number = monotonicMs,
  ) {}

  /** Our address toward `peer`, if the last lookup found a route. */
  get(peer: string): string | undefined {
    return this.ours.get(peer) ?? undefined;
  }

  /** Looks every peer up again (one lookup at a time); returns what changed. */
  refresh(peers: readonly string[]): Promise<RelayAddressChange[]> {
    this.lastRefresh = this.now();
    if (!this.running) {
      this.running = this.lookupAll(peers).finally(() => (this.running = undefined));
    }
    return this.running;
  }

  /** A refresh, unless there was one within `minIntervalMs` (a frame named an address we did not expect). */
  refreshSoon(peers: readonly string[], minIntervalMs = 1000): void {
    if (this.now() - this.lastRefresh >= minIntervalMs) void this.refresh(peers);
  }

  private async lookupAll(peers: readonly string[]): Promise<RelayAddressChange[]> {
    const changes: RelayAddressChange[] = [];
    for (const p of [...this.ours.keys()]) if (!peers.includes(p)) this.ours.delete(p);
    for (const peer of peers) {
      const address = (await this.lookup(peer).catch(() => undefined)) ?? null;
      const previous = this.ours.get(peer);
      if (address === previous) continue;
      this.ours.set(peer, address);
      changes.push({ peer, address: address ?? undefined, previous: previous ?? undefined });
    }
    return changes;
  }
}
