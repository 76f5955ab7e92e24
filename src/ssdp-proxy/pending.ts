// Searches waiting for replies. At the origin proxy an entry says which client
// (address AND port) asked, so every reply goes back to the very socket that
// searched and two clients searching at once never see each other's replies.
// An entry lives MX + 1 s (UDA: devices answer within MX); a reply after that
// is dropped, never re-multicast.

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

export interface PendingSearchTableOptions {
  max: number;
  now?: () => number;
}

export class PendingSearchTable<T = undefined> {
  private entries = new Map<string, PendingSearch<T>>();
  private readonly now: () => number;
  readonly max: number;

  constructor(opts: PendingSearchTableOptions) {
    this.max = opts.max;
    this.now = opts.now ?? Date.now;
  }

  /** Undefined when the table is full: the search is refused, not an older one dropped. */
  add(e: Omit<PendingSearch<T>, 'deadline'>): PendingSearch<T> | undefined {
    this.expire();
    if (this.entries.size >= this.max || this.entries.has(e.id)) return undefined;
    const entry = { ...e, deadline: this.now() + (e.mx + 1) * 1000 };
    this.entries.set(e.id, entry);
    return entry;
  }

  /** The live entry for a request id; undefined when unknown or past its deadline. */
  get(id: string): PendingSearch<T> | undefined {
    const e = this.entries.get(id);
    if (!e || this.now() > e.deadline) return undefined;
    return e;
  }

  /** Removes and returns the entries past their deadline. */
  expire(): PendingSearch<T>[] {
    const t = this.now();
    const gone: PendingSearch<T>[] = [];
    for (const e of this.entries.values()) {
      if (t > e.deadline) {
        this.entries.delete(e.id);
        gone.push(e);
      }
    }
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
