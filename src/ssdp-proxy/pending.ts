// Searches waiting for replies. At the origin proxy an entry says which client
// (address AND port) asked, so every reply goes back to the very socket that
// searched and two clients searching at once never see each other's replies.
// An entry lives MX + 1 s (UDA 2.0 s1.3.3: devices answer within MX); a reply
// after that is dropped, never re-multicast.
//
// Besides the bound on the whole table, a bound per client address: a host
// that floods searches of distinct STs fills its own share, not the table, and
// every other host's searches still go out.

import { monotonicMs } from '../lib/clock';

export interface PendingSearch<T = undefined> {
  id: string;
  clientAddress: string;
  clientPort: number;
  st: string;
  mx: number;
  deadline: number;
  /** Per-entry data: at the origin nothing; at a remote proxy its socket. */
  data: T;
}

export interface PendingSearchTableOptions<T> {
  max: number;
  /** Entries one client address may hold at once; unlimited when not given. */
  maxPerSource?: number;
  /** A monotonic clock (src/lib/clock.ts). */
  now?: () => number;
  /** Called once for every entry that expires, wherever the expiry happens (a socket to close). */
  onExpire?: (e: PendingSearch<T>) => void;
}

export class PendingSearchTable<T = undefined> {
  private entries = new Map<string, PendingSearch<T>>();
  private readonly now: () => number;
  private readonly onExpire?: (e: PendingSearch<T>) => void;
  /** The bound; a smaller one set at run time refuses new entries until the table drains. */
  max: number;
  /** The bound per client address; settable at run time like max. */
  maxPerSource: number;
  private perSource = new Map<string, number>();
  /** No entry expires before this: a full table refuses a flood without scanning itself each time. */
  private earliest = Infinity;

  constructor(opts: PendingSearchTableOptions<T>) {
    this.max = opts.max;
    this.maxPerSource = opts.maxPerSource ?? Infinity;
    this.now = opts.now ?? monotonicMs;
    this.onExpire = opts.onExpire;
  }

  /**
   * Undefined when the table is full or the client at its quota (atSourceQuota
   * tells which): the search is refused, not an older one dropped.
   */
  add(e: Omit<PendingSearch<T>, 'deadline'>): PendingSearch<T> | undefined {
    const full = () => this.entries.size >= this.max || this.atSourceQuota(e.clientAddress);
    if (full() && this.now() > this.earliest) this.expire();
    if (full() || this.entries.has(e.id)) return undefined;
    const entry = { ...e, deadline: this.now() + (e.mx + 1) * 1000 };
    this.entries.set(e.id, entry);
    this.perSource.set(e.clientAddress, (this.perSource.get(e.clientAddress) ?? 0) + 1);
    this.earliest = Math.min(this.earliest, entry.deadline);
    return entry;
  }

  /** Milliseconds since the entry was added (its deadline is MX + 1 s after that). */
  age(e: PendingSearch<T>): number {
    return this.now() - (e.deadline - (e.mx + 1) * 1000);
  }

  /** The live entry for a request id; undefined when unknown or past its deadline. */
  get(id: string): PendingSearch<T> | undefined {
    const e = this.entries.get(id);
    if (!e || this.now() > e.deadline) return undefined;
    return e;
  }

  /** Removes the entries past their deadline, handing each to onExpire; returns them. */
  expire(): PendingSearch<T>[] {
    const t = this.now();
    const gone: PendingSearch<T>[] = [];
    let earliest = Infinity;
    for (const e of this.entries.values()) {
      if (t > e.deadline) {
        this.remove(e);
        gone.push(e);
      } else earliest = Math.min(earliest, e.deadline);
    }
    this.earliest = earliest;
    if (this.onExpire) for (const e of gone) this.onExpire(e);
    return gone;
  }

  delete(id: string): PendingSearch<T> | undefined {
    const e = this.entries.get(id);
    if (e) this.remove(e);
    return e;
  }

  /** The client holds as many entries as it may. */
  atSourceQuota(clientAddress: string): boolean {
    return (this.perSource.get(clientAddress) ?? 0) >= this.maxPerSource;
  }

  private remove(e: PendingSearch<T>): void {
    this.entries.delete(e.id);
    const n = (this.perSource.get(e.clientAddress) ?? 1) - 1;
    if (n > 0) this.perSource.set(e.clientAddress, n);
    else this.perSource.delete(e.clientAddress);
  }

  values(): PendingSearch<T>[] {
    return [...this.entries.values()];
  }

  get size(): number {
    return this.entries.size;
  }
}
