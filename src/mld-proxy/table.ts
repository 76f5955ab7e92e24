// LAN addresses we answer for on the WAN, each kept alive by NDP traffic (or a live
// neighbour-table entry) and forgotten after timeoutMs of silence. Several addresses can share
// one solicited-node group (same low 24 bits), so groups are reference-counted: the table
// reports the 0->1 transition (join on the WAN) and the 1->0 one (leave), and the caller
// does the socket work. The clock is injected, so nothing here reads the time on its own.

import { monotonicMs } from '../lib/clock';
import { formatIPv6, parseIPv6 } from '../lib/ip';
import { solicitedNodeGroup } from './solicited-node';

export type AddressSource = 'ndp' | 'neigh' | 'state';

export interface AddressEntry {
  /** RFC 5952 canonical text; also the table key. */
  address: string;
  /** Solicited-node group, canonical text. */
  group: string;
  /** Downstream interface it was last seen on. */
  interface: string;
  /** ms on the clock the table was given (the daemon converts to wall time for files and status). */
  lastSeen: number;
  /** The caller has reported the group joined on the WAN (setJoined). */
  joined: boolean;
  /** What last refreshed it. */
  source: AddressSource;
}

export interface RemovedEntry extends AddressEntry {
  /** This was the group's last address: leave the group on the WAN if it was joined. */
  leave: boolean;
}

export type TouchResult =
  /** join: the group had no address before, so join it on the WAN now. */
  | { status: 'added'; entry: Readonly<AddressEntry>; join: boolean }
  | { status: 'refreshed'; entry: Readonly<AddressEntry> }
  /** The table is full (maxAddresses); existing addresses still refresh. */
  | { status: 'refused'; address: string };

export interface RestoreEntry {
  address: string;
  interface: string;
  lastSeen: number;
}

export interface RestoreResult {
  restored: number;
  /** Dropped because their lifetime had already run out. */
  expired: number;
  /** Dropped because the table was full. */
  refused: number;
  /** Groups that went from 0 to 1 address: join them on the WAN. */
  join: string[];
}

export interface GroupState {
  group: string;
  addresses: number;
  joined: boolean;
}

export interface AddressTableOptions {
  /** Lifetime without traffic; default 1800 s. */
  timeoutMs?: number;
  /** Bound on addresses; default 4096. */
  maxAddresses?: number;
  /** Clock in ms; default monotonic (src/lib/clock.ts: a lifetime must not jump with the wall clock). */
  now?: () => number;
}

interface Group {
  group: string;
  members: Set<AddressEntry>;
  joined: boolean;
}

export const DEFAULT_TIMEOUT_MS = 1800_000;
export const DEFAULT_MAX_ADDRESSES = 4096;

export class AddressTable {
  readonly timeoutMs: number;
  readonly maxAddresses: number;
  private readonly clock: () => number;
  private readonly entries = new Map<string, AddressEntry>();
  private readonly groupsByName = new Map<string, Group>();

  constructor(options: AddressTableOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxAddresses = options.maxAddresses ?? DEFAULT_MAX_ADDRESSES;
    this.clock = options.now ?? monotonicMs;
    if (!(this.timeoutMs > 0) || !Number.isFinite(this.timeoutMs)) throw new Error(`timeoutMs must be a positive number, got ${this.timeoutMs}`);
    if (!Number.isInteger(this.maxAddresses) || this.maxAddresses < 1) throw new Error(`maxAddresses must be a positive integer, got ${this.maxAddresses}`);
  }

  get size(): number {
    return this.entries.size;
  }

  get(address: Uint8Array | string): Readonly<AddressEntry> | undefined {
    return this.entries.get(key(address));
  }

  /** Record a sign of life. address must already have passed the address filter. */
  touch(address: Uint8Array | string, iface: string, source: AddressSource = 'ndp', now: number = this.clock()): TouchResult {
    const bytes = typeof address === 'string' ? parseIPv6(address) : address;
    const k = formatIPv6(bytes);
    const found = this.entries.get(k);
    if (found !== undefined) {
      found.lastSeen = now;
      found.interface = iface;
      found.source = source;
      return { status: 'refreshed', entry: found };
    }
    if (this.entries.size >= this.maxAddresses) return { status: 'refused', address: k };
    const { entry, join } = this.insert(k, bytes, iface, now, source);
    return { status: 'added', entry, join };
  }

  /** Remove every address silent for timeoutMs or longer. */
  expire(now: number = this.clock()): RemovedEntry[] {
    const removed: RemovedEntry[] = [];
    for (const entry of this.entries.values()) {
      if (now - entry.lastSeen >= this.timeoutMs) removed.push(this.delete(entry));
    }
    return removed;
  }

  remove(address: Uint8Array | string): RemovedEntry | undefined {
    const entry = this.entries.get(key(address));
    return entry === undefined ? undefined : this.delete(entry);
  }

  clear(): RemovedEntry[] {
    return [...this.entries.values()].map((e) => this.delete(e));
  }

  /** When the next address will expire if nothing refreshes it; undefined when empty. */
  nextExpiry(): number | undefined {
    let min = Infinity;
    for (const e of this.entries.values()) if (e.lastSeen < min) min = e.lastSeen;
    return min === Infinity ? undefined : min + this.timeoutMs;
  }

  /**
   * Load entries saved before a restart, each keeping only what was left of its lifetime.
   * A lastSeen in the future (the clock was stepped back since) counts as now, so no entry
   * outlives one full timeout. Freshest first, so a full table keeps the liveliest.
   */
  restore(saved: readonly RestoreEntry[], now: number = this.clock()): RestoreResult {
    const result: RestoreResult = { restored: 0, expired: 0, refused: 0, join: [] };
    const ordered = [...saved].sort((a, b) => b.lastSeen - a.lastSeen);
    for (const s of ordered) {
      const lastSeen = Math.min(s.lastSeen, now);
      if (now - lastSeen >= this.timeoutMs) {
        result.expired++;
        continue;
      }
      const bytes = parseIPv6(s.address);
      const k = formatIPv6(bytes);
      const found = this.entries.get(k);
      if (found !== undefined) {
        // Live traffic (or a duplicate line) got there first; keep whichever is newer.
        if (lastSeen > found.lastSeen) found.lastSeen = lastSeen;
        continue;
      }
      if (this.entries.size >= this.maxAddresses) {
        result.refused++;
        continue;
      }
      const { join, entry } = this.insert(k, bytes, s.interface, lastSeen, 'state');
      result.restored++;
      if (join) result.join.push(entry.group);
    }
    return result;
  }

  /** The caller reports whether its WAN join for group is in place. */
  setJoined(group: string, joined: boolean): void {
    const g = this.groupsByName.get(group);
    if (g === undefined) return;
    g.joined = joined;
    for (const e of g.members) e.joined = joined;
  }

  /** Groups with addresses but no WAN membership: retry these (e.g. after a failed join). */
  unjoinedGroups(): string[] {
    const out: string[] = [];
    for (const g of this.groupsByName.values()) if (!g.joined) out.push(g.group);
    return out;
  }

  /**
   * Forget all memberships (the WAN interface went away or was re-created, which drops
   * them in the kernel) and return every group, to be joined again.
   */
  resetJoined(): string[] {
    for (const g of this.groupsByName.keys()) this.setJoined(g, false);
    return [...this.groupsByName.keys()];
  }

  groups(): GroupState[] {
    return [...this.groupsByName.values()]
      .map((g) => ({ group: g.group, addresses: g.members.size, joined: g.joined }))
      .sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
  }

  /** Copies, sorted by address, for the status socket and the state file. */
  snapshot(): AddressEntry[] {
    return [...this.entries.values()]
      .map((e) => ({ ...e }))
      .sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  }

  private insert(k: string, bytes: Uint8Array, iface: string, lastSeen: number, source: AddressSource): { entry: AddressEntry; join: boolean } {
    const groupName = formatIPv6(solicitedNodeGroup(bytes));
    let g = this.groupsByName.get(groupName);
    const join = g === undefined;
    if (g === undefined) {
      g = { group: groupName, members: new Set(), joined: false };
      this.groupsByName.set(groupName, g);
    }
    const entry: AddressEntry = { address: k, group: groupName, interface: iface, lastSeen, joined: g.joined, source };
    g.members.add(entry);
    this.entries.set(k, entry);
    return { entry, join };
  }

  private delete(entry: AddressEntry): RemovedEntry {
    this.entries.delete(entry.address);
    const g = this.groupsByName.get(entry.group);
    let leave = false;
    if (g !== undefined) {
      g.members.delete(entry);
      if (g.members.size === 0) {
        this.groupsByName.delete(entry.group);
        leave = true;
      }
    }
    return { ...entry, leave };
  }
}

function key(address: Uint8Array | string): string {
  return formatIPv6(typeof address === 'string' ? parseIPv6(address) : address);
}
