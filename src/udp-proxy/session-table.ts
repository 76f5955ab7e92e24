// Client sessions of one rule, keyed by the client's address and port, kept in
// least-recently-used order (a doubly linked list) so that both idle expiry and
// the maxSessions bound cost O(1) per session. Lookup and touch allocate
// nothing: the map is nested (address -> port -> entry) rather than keyed by a
// concatenated string built per packet.

import { monotonicMs } from '../lib/clock';

export interface SessionEntry<T> {
  readonly address: string;
  readonly port: number;
  readonly value: T;
  lastSeen: number;
  /** Towards the least recently used end. */
  older: SessionEntry<T> | null;
  newer: SessionEntry<T> | null;
}

export interface SessionTableOptions {
  idleTimeoutMs: number;
  maxSessions: number;
  /** A monotonic clock (src/lib/clock.ts): an idle timeout must not jump with the wall clock. */
  now?: () => number;
}

export class SessionTable<T> {
  readonly idleTimeoutMs: number;
  readonly maxSessions: number;
  private readonly now: () => number;
  private readonly byAddress = new Map<string, Map<number, SessionEntry<T>>>();
  private oldest: SessionEntry<T> | null = null;
  private newest: SessionEntry<T> | null = null;
  private count = 0;

  constructor(opts: SessionTableOptions) {
    this.idleTimeoutMs = opts.idleTimeoutMs;
    this.maxSessions = opts.maxSessions;
    this.now = opts.now ?? monotonicMs;
  }

  get size(): number {
    return this.count;
  }

  get(address: string, port: number): SessionEntry<T> | undefined {
    return this.byAddress.get(address)?.get(port);
  }

  /**
   * Adds a session as the most recently used. When the table is full the least
   * recently used one is removed first and returned, for the caller to close.
   */
  add(address: string, port: number, value: T): { entry: SessionEntry<T>; evicted?: SessionEntry<T> } {
    if (this.get(address, port)) throw new Error(`session ${address} port ${port} exists already`);
    let evicted: SessionEntry<T> | undefined;
    if (this.count >= this.maxSessions && this.oldest) {
      evicted = this.oldest;
      this.delete(evicted);
    }
    const entry: SessionEntry<T> = { address, port, value, lastSeen: this.now(), older: null, newer: null };
    let ports = this.byAddress.get(address);
    if (!ports) this.byAddress.set(address, (ports = new Map()));
    ports.set(port, entry);
    this.link(entry);
    this.count++;
    return evicted ? { entry, evicted } : { entry };
  }

  /** Marks a session used now. */
  touch(entry: SessionEntry<T>): void {
    entry.lastSeen = this.now();
    if (this.newest === entry) return;
    this.unlink(entry);
    this.link(entry);
  }

  delete(entry: SessionEntry<T>): boolean {
    const ports = this.byAddress.get(entry.address);
    if (ports?.get(entry.port) !== entry) return false;
    ports.delete(entry.port);
    if (ports.size === 0) this.byAddress.delete(entry.address);
    this.unlink(entry);
    this.count--;
    return true;
  }

  /** Removes and returns the sessions idle for idleTimeoutMs or longer, oldest first. */
  expire(): SessionEntry<T>[] {
    const out: SessionEntry<T>[] = [];
    const now = this.now();
    // On a monotonic clock lastSeen never lies in the future; should an injected
    // clock go back, such a session counts as just used.
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
    entry.older = this.newest;
    entry.newer = null;
    if (this.newest) this.newest.newer = entry;
    this.newest = entry;
    if (!this.oldest) this.oldest = entry;
  }

  private unlink(entry: SessionEntry<T>): void {
    if (entry.older) entry.older.newer = entry.newer;
    else this.oldest = entry.newer;
    if (entry.newer) entry.newer.older = entry.older;
    else this.newest = entry.older;
    entry.older = entry.newer = null;
  }
}
