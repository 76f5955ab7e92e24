// Searches waiting for replies. At the origin proxy an entry says which client
// (address AND port) asked, so every reply goes back to the very socket that
// searched and two clients searching at once never see each other's replies.
// An entry lives MX + 1 s (UDA 2.0 s1.3.3: devices answer within MX); a reply
// after that is dropped, never re-multicast.

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
  /** No entry expires before this: a full table refuses a flood without scanning itself each time. */
  private earliest = Infinity;

  constructor(opts: PendingSearchTableOptions<T>) {
    this.max = opts.max;
    this.now = opts.now ?? Date.now;
    this.onExpire = opts.onExpire;
  }

  /** Undefined when the table is full: the search is refused, not an older one dropped. */
  add(e: Omit<PendingSearch<T>, 'deadline'>): PendingSearch<T> | undefined {
    if (this.entries.size >= this.max && this.now() > this.earliest) this.expire();
    if (this.entries.size >= this.max || this.entries.has(e.id)) return undefined;
    const entry = { ...e, deadline: this.now() + (e.mx + 1) * 1000 };
    this.entries.set(e.id, entry);
    this.earliest = Math.min(this.earliest, entry.deadline);
    return entry;
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
        this.entries.delete(e.id);
        gone.push(e);
      } else earliest = Math.min(earliest, e.deadline);
    }
    this.earliest = earliest;
    if (this.onExpire) for (const e of gone) this.onExpire(e);
    return gone;
  }

  delete(id: string): PendingSearch<T> | undefined {
    const e = this.entries.get(id);
    this.entries.delete(id);
    return e;
  }

  values(): PendingSearch<T>[] {
    return [...this.entries.values()];
  }

  get size(): number {
    return this.entries.size;
  }
}
