// Client sessions of one rule, keyed by the client's address and port, kept in
// least-recently-used order (doubly linked lists) so that idle expiry and both
// bounds cost O(1) per session:
//
// - maxSessions: past it the least recently used session of the rule goes;
// - maxPerClient: past it the least recently used session *of that client
//   address* goes, so one host spraying source ports churns only its own
//   sessions and never evicts everyone else's.
//
// Addresses are IPv6 words (IPv4 mapped, see lib/sockaddr.ts). Lookup and touch
// allocate nothing: clients are found by a number (the IPv4 address itself,
// or a seeded hash of the IPv6 one checked word by word), then by port.
import { monotonicMs } from '../lib/clock';

export interface SessionEntry<T> {
  readonly w0: number;
  readonly w1: number;
  readonly w2: number;
  readonly w3: number;
  readonly port: number;
  readonly value: T;
  lastSeen: number;
  /** Rule-wide LRU list, towards the least recently used end. */
  older: SessionEntry<T> | null;
  newer: SessionEntry<T> | null;
  /** The same client's LRU list. */
  clientOlder: SessionEntry<T> | null;
  clientNewer: SessionEntry<T> | null;
  client: ClientSessions<T>;
}

interface ClientSessions<T> {
  key: number;
  w0: number;
  w1: number;
  w2: number;
  w3: number;
  byPort: Map<number, SessionEntry<T>>;
  oldest: SessionEntry<T> | null;
  newest: SessionEntry<T> | null;
  /** Another client whose hash collided with this one's. */
  next: ClientSessions<T> | null;
}

export interface SessionTableOptions {
  idleTimeoutMs: number;
  maxSessions: number;
  /** Sessions one client address may hold (default: maxSessions). */
  maxPerClient?: number;
  /** A monotonic clock (src/lib/clock.ts): an idle timeout must not jump with the wall clock. */
  now?: () => number;
  /** How clients are filed (tests make every client collide). */
  keyOf?: (w0: number, w1: number, w2: number, w3: number) => number;
}

export type EvictReason = 'maxSessions' | 'maxPerClient';

const TWO32 = 2 ** 32;
// Per process, so nobody can pick addresses that collide on purpose.
const SEED = (Math.random() * TWO32) >>> 0;

/** The number clients are filed under: the address itself for IPv4, a hash above 2^32 for IPv6. */
export function clientKey(w0: number, w1: number, w2: number, w3: number): number {
  if (w0 === 0 && w1 === 0 && w2 === 0xffff) return w3;
  let h = Math.imul(w0 ^ SEED, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 15) ^ w1, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ w2, 0xc2b2ae35);
  let g = Math.imul(h ^ (h >>> 16) ^ w3, 0x27d4eb2f);
  g ^= g >>> 15;
  return TWO32 * (1 + (h & 0xfffff)) + (g >>> 0);
}

export class SessionTable<T> {
  readonly idleTimeoutMs: number;
  readonly maxSessions: number;
  readonly maxPerClient: number;
  private readonly now: () => number;
  private readonly keyOf: (w0: number, w1: number, w2: number, w3: number) => number;
  private readonly clients = new Map<number, ClientSessions<T>>();
  private oldest: SessionEntry<T> | null = null;
  private newest: SessionEntry<T> | null = null;
  private count = 0;

  constructor(opts: SessionTableOptions) {
    this.idleTimeoutMs = opts.idleTimeoutMs;
    this.maxSessions = opts.maxSessions;
    this.maxPerClient = opts.maxPerClient ?? opts.maxSessions;
    this.now = opts.now ?? monotonicMs;
    this.keyOf = opts.keyOf ?? clientKey;
  }

  get size(): number {
    return this.count;
  }

  /** Client addresses with at least one session. */
  get clientCount(): number {
    let n = 0;
    for (let c of this.clients.values()) for (let x: ClientSessions<T> | null = c; x; x = x.next) n++;
    return n;
  }

  private findClient(key: number, w0: number, w1: number, w2: number, w3: number): ClientSessions<T> | undefined {
    for (let c = this.clients.get(key) ?? null; c; c = c.next) {
      if (c.w3 === w3 && c.w2 === w2 && c.w1 === w1 && c.w0 === w0) return c;
    }
    return undefined;
  }

  get(w0: number, w1: number, w2: number, w3: number, port: number): SessionEntry<T> | undefined {
    return this.findClient(this.keyOf(w0, w1, w2, w3), w0, w1, w2, w3)?.byPort.get(port);
  }

  /**
   * Adds a session as the most recently used. When the client or the table is
   * full, the least recently used session of the client (or of the table) is
   * removed first and returned, for the caller to close.
   */
  add(w0: number, w1: number, w2: number, w3: number, port: number, value: T): { entry: SessionEntry<T>; evicted?: SessionEntry<T>; reason?: EvictReason } {
    const key = this.keyOf(w0, w1, w2, w3);
    let client = this.findClient(key, w0, w1, w2, w3);
    if (client?.byPort.has(port)) throw new Error(`session port ${port} exists already`);
    let evicted: SessionEntry<T> | undefined;
    let reason: EvictReason | undefined;
    // A per-client bound as large as the table's is the table's bound.
    if (client && client.byPort.size >= this.maxPerClient && this.maxPerClient < this.maxSessions && client.oldest) {
      evicted = client.oldest;
      reason = 'maxPerClient';
    } else if (this.count >= this.maxSessions && this.oldest) {
      evicted = this.oldest;
      reason = 'maxSessions';
    }
    if (evicted) {
      this.delete(evicted);
      client = this.findClient(key, w0, w1, w2, w3); // deleting its last session drops the client
    }
    if (!client) {
      client = { key, w0, w1, w2, w3, byPort: new Map(), oldest: null, newest: null, next: this.clients.get(key) ?? null };
      this.clients.set(key, client);
    }
    const entry: SessionEntry<T> = { w0, w1, w2, w3, port, value, lastSeen: this.now(), older: null, newer: null, clientOlder: null, clientNewer: null, client };
    client.byPort.set(port, entry);
    this.link(entry);
    this.count++;
    return evicted ? { entry, evicted, reason } : { entry };
  }

  /** Marks a session used now. */
  touch(entry: SessionEntry<T>): void {
    entry.lastSeen = this.now();
    if (this.newest !== entry) {
      this.unlinkRule(entry);
      this.linkRule(entry);
    }
    if (entry.client.newest !== entry) {
      this.unlinkClient(entry);
      this.linkClient(entry);
    }
  }

  delete(entry: SessionEntry<T>): boolean {
    const c = entry.client;
    if (c.byPort.get(entry.port) !== entry) return false;
    c.byPort.delete(entry.port);
    this.unlinkRule(entry);
    this.unlinkClient(entry);
    this.count--;
    if (c.byPort.size === 0) {
      const head = this.clients.get(c.key)!;
      if (head === c) {
        if (c.next) this.clients.set(c.key, c.next);
        else this.clients.delete(c.key);
      } else {
        let p = head;
        while (p.next !== c) p = p.next!;
        p.next = c.next;
      }
      c.next = null;
    }
    return true;
  }

  /** Removes and returns the sessions idle for idleTimeoutMs or longer, oldest first. */
  expire(): SessionEntry<T>[] {
    const out: SessionEntry<T>[] = [];
    const now = this.now();
    // A clock stepped backwards makes lastSeen lie in the future: such a session
    // counts as just used, which is what the user would expect.
    while (this.oldest && now - this.oldest.lastSeen >= this.idleTimeoutMs) {
      const e = this.oldest;
      this.delete(e);
      out.push(e);
    }
    return out;
  }

  /** Removes every session; returns them for the caller to close. */
  clear(): SessionEntry<T>[] {
    const all = this.entries();
    for (const e of all) this.delete(e);
    return all;
  }

  /** Most recently used first. */
  entries(): SessionEntry<T>[] {
    const out: SessionEntry<T>[] = [];
    for (let e = this.newest; e; e = e.older) out.push(e);
    return out;
  }

  private link(entry: SessionEntry<T>): void {
    this.linkRule(entry);
    this.linkClient(entry);
  }

  private linkRule(entry: SessionEntry<T>): void {
    entry.older = this.newest;
    entry.newer = null;
    if (this.newest) this.newest.newer = entry;
    this.newest = entry;
    if (!this.oldest) this.oldest = entry;
  }

  private unlinkRule(entry: SessionEntry<T>): void {
    if (entry.older) entry.older.newer = entry.newer;
    else if (this.oldest === entry) this.oldest = entry.newer;
    if (entry.newer) entry.newer.older = entry.older;
    else if (this.newest === entry) this.newest = entry.older;
    entry.older = entry.newer = null;
  }

  private linkClient(entry: SessionEntry<T>): void {
    const c = entry.client;
    entry.clientOlder = c.newest;
    entry.clientNewer = null;
    if (c.newest) c.newest.clientNewer = entry;
    c.newest = entry;
    if (!c.oldest) c.oldest = entry;
  }

  private unlinkClient(entry: SessionEntry<T>): void {
    const c = entry.client;
    if (entry.clientOlder) entry.clientOlder.clientNewer = entry.clientNewer;
    else if (c.oldest === entry) c.oldest = entry.clientNewer;
    if (entry.clientNewer) entry.clientNewer.clientOlder = entry.clientOlder;
    else if (c.newest === entry) c.newest = entry.clientOlder;
    entry.clientOlder = entry.clientNewer = null;
  }
}
