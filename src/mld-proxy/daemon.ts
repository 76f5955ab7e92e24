// The mld-proxy daemon: learns LAN hosts' addresses from NDP on the downstream
// interfaces (and from the kernel neighbour table and the state file), and
// holds each address's solicited-node group (RFC 4291 s2.7.1) on the upstream
// interface, so an MLD-snooping gateway forwards its NS for them to us.
//
// Interfaces may be missing at start or re-created at run time (UniFi
// rebuilds bridges; the WAN comes up late): the interface watcher reports
// them, and captures and memberships follow.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { TypedEmitter } from 'tiny-typed-emitter';
import { writeFileAtomic } from '../lib/atomic-file';
import { monotonicMs, tickOf, wallTimeOf } from '../lib/clock';
import { createInterfaceWatcher, type IfaceInfo, type InterfaceWatcher } from '../lib/interfaces';
import { formatIPv6, parseIPv6, type Cidr } from '../lib/ip';
import { readLocalIPv6Addresses } from '../lib/local-addresses';
import { createAddressFilter, type AddressFilter } from './address-filter';
import { openCapture, type Capture } from './capture';
import { createGroupJoiner, type GroupJoiner } from './group-joiner';
import { decodeNdpFrame, learnableAddresses, NdpError } from './ndp';
import { aliveAddresses, parseNeighbourJson } from './neighbours';
import { decodeStateFile, encodeStateFile } from './state-file';
import { AddressTable, type AddressEntry, type AddressSource, type RemovedEntry } from './table';

export interface MldProxyOptions {
  upstream: string;
  downstream: string[];
  /** Address lifetime without NDP traffic. */
  timeoutMs: number;
  /** How often expiry runs and failed joins are retried. */
  checkIntervalMs: number;
  /** Empty: the /64s of the upstream's global addresses. */
  prefixes: Cidr[];
  maxAddresses: number;
  stateFile?: string;
  neighbourIntervalMs?: number;
  stateSaveIntervalMs?: number;
  interfaceIntervalMs?: number;
}

export interface MldProxyDeps {
  /** Wall clock: lastSeen in the state file and the status. */
  now?: () => number;
  /** Address lifetimes, monotonic; default: now if given, else performance.now. */
  tick?: () => number;
  /** `ip -j -6 neigh show dev <ifname>` output. */
  readNeighbours?: (ifname: string) => Promise<string>;
  openCapture?: typeof openCapture;
  createGroupJoiner?: (ifname: string) => GroupJoiner;
  watcher?: InterfaceWatcher;
  /** The router's own IPv6 addresses (all interfaces). */
  readLocalAddresses?: () => Set<string>;
}

export interface MldProxyEvents {
  joined: (group: string, address: string, upstream: string, seenOn: string) => void;
  left: (group: string, address: string, upstream: string, reason: string) => void;
  /** An address was added to the table (not for refreshes). */
  learned: (address: string, ifname: string, source: AddressSource) => void;
  /** Table full: a new address was refused. */
  refused: (address: string, max: number) => void;
  info: (message: string) => void;
  /** Something failed and will be retried; the daemon goes on. */
  warning: (key: string, message: string) => void;
}

export interface MldProxyCounters {
  frames: number;
  ndp: number;
  malformed: Record<string, number>;
  ignored: Record<string, number>;
  refused: number;
  /** Addresses added to the table (not refreshes), from any source. */
  learned: number;
  joinFailures: number;
  joins: number;
  leaves: number;
}

export interface MldProxyStatus {
  upstream: { name: string; present: boolean; groups: number; sockets: number };
  downstream: { name: string; present: boolean; capturing: boolean }[];
  prefixes: string[];
  timeoutMs: number;
  maxAddresses: number;
  addresses: AddressEntry[];
  counters: MldProxyCounters;
  startedAt: number;
}

const NEIGHBOUR_INTERVAL_MS = 60_000;
const STATE_SAVE_INTERVAL_MS = 300_000;

function defaultReadNeighbours(ifname: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', ['-j', '-6', 'neigh', 'show', 'dev', ifname], { timeout: 5000, maxBuffer: 8 << 20 }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    );
  });
}

/** The /64 of every non-link-local IPv6 address on the upstream interface. */
export function upstreamPrefixes(info: IfaceInfo | undefined): Cidr[] {
  const out = new Map<string, Cidr>();
  for (const a of info?.addresses ?? []) {
    if (a.family !== 'IPv6') continue;
    const bytes = parseIPv6(a.address.split('%')[0]);
    if (bytes[0] === 0xfe && (bytes[1] & 0xc0) === 0x80) continue;
    if (bytes[0] === 0xff) continue;
    const len = Math.min(64, a.prefixLength || 64);
    const net = new Uint8Array(16);
    for (let i = 0; i < 16; i++) {
      const bits = Math.max(0, Math.min(8, len - i * 8));
      net[i] = bytes[i] & ((0xff << (8 - bits)) & 0xff);
    }
    out.set(`${formatIPv6(net)}/${len}`, { family: 6, bytes: net, prefixLength: len });
  }
  return [...out.values()];
}

export class MldProxy extends TypedEmitter<MldProxyEvents> {
  private opts: MldProxyOptions;
  private readonly now: () => number;
  // The table runs on this: on the wall clock a step forward by an hour would expire every
  // address at the next check and leave all their groups, which is the outage mld-proxy is
  // there to prevent; a step back would keep departed hosts joined an hour longer.
  private readonly tick: () => number;
  private readonly readNeighbours: (ifname: string) => Promise<string>;
  private readonly openCaptureFn: typeof openCapture;
  private readonly makeJoiner: (ifname: string) => GroupJoiner;
  private readonly watcher: InterfaceWatcher;
  private table: AddressTable;
  private filter: AddressFilter;
  private prefixText: string[] = [];
  private joiner: GroupJoiner | undefined;
  private readonly captures = new Map<string, Capture>();
  private ownAddresses = new Set<string>();
  private ownReadAt = -Infinity;
  private readonly readOwn: () => Set<string>;
  private timers: NodeJS.Timeout[] = [];
  private closed = false;
  private readonly startedAt: number;
  readonly counters: MldProxyCounters = { frames: 0, ndp: 0, malformed: {}, ignored: {}, refused: 0, learned: 0, joinFailures: 0, joins: 0, leaves: 0 };

  constructor(opts: MldProxyOptions, deps: MldProxyDeps = {}) {
    super();
    this.opts = opts;
    this.now = deps.now ?? Date.now;
    this.tick = deps.tick ?? deps.now ?? monotonicMs;
    this.readNeighbours = deps.readNeighbours ?? defaultReadNeighbours;
    this.openCaptureFn = deps.openCapture ?? openCapture;
    this.makeJoiner = deps.createGroupJoiner ?? ((ifname) => createGroupJoiner(ifname));
    this.readOwn = deps.readLocalAddresses ?? readLocalIPv6Addresses;
    this.watcher =
      deps.watcher ?? createInterfaceWatcher({ names: [opts.upstream, ...opts.downstream], intervalMs: opts.interfaceIntervalMs ?? 5000 });
    this.table = new AddressTable({ timeoutMs: opts.timeoutMs, maxAddresses: opts.maxAddresses, now: this.tick });
    this.filter = createAddressFilter(opts.prefixes);
    this.prefixText = opts.prefixes.map((p) => `${formatIPv6(p.bytes)}/${p.prefixLength}`);
    this.startedAt = this.now();
  }

  start(): void {
    this.watcher.on('appeared', (info) => this.interfaceUp(info, undefined));
    this.watcher.on('changed', (info, previous) => this.interfaceUp(info, previous));
    this.watcher.on('vanished', (name) => this.interfaceGone(name));
    this.watcher.on('warning', (err) => this.emit('warning', 'interfaces', `cannot read interfaces: ${err.message}`));
    this.restoreState();
    this.watcher.start();
    for (const name of [this.opts.upstream, ...this.opts.downstream]) {
      if (!this.watcher.get(name)) this.emit('info', `waiting for interface ${name}`);
    }
    this.startTimers();
    void this.sweepNeighbours();
  }

  private startTimers(): void {
    for (const t of this.timers) clearInterval(t);
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(fn, ms);
      t.unref();
      this.timers.push(t);
    };
    this.timers = [];
    every(this.opts.checkIntervalMs, () => this.check());
    every(this.opts.neighbourIntervalMs ?? NEIGHBOUR_INTERVAL_MS, () => void this.sweepNeighbours());
    if (this.opts.stateFile) every(this.opts.stateSaveIntervalMs ?? STATE_SAVE_INTERVAL_MS, () => this.saveState());
  }

  /** Expire silent addresses, leave their groups, retry failed joins and captures. */
  check(): void {
    for (const removed of this.table.expire()) this.removed(removed, 'expired');
    this.joinPending();
    this.reopenCaptures();
  }

  // --- interfaces -----------------------------------------------------------

  private interfaceUp(info: IfaceInfo, previous: IfaceInfo | undefined): void {
    if (this.closed) return;
    const recreated = previous !== undefined && previous.index !== info.index;
    if (info.name === this.opts.upstream) {
      if (!previous) this.emit('info', `upstream ${info.name} is present (ifindex ${info.index})`);
      if (recreated) {
        this.emit('info', `upstream ${info.name} was re-created (ifindex ${previous!.index} -> ${info.index}); joining all groups again`);
        this.joiner?.reset();
        this.joiner = undefined;
        this.table.resetJoined();
      }
      if (this.opts.prefixes.length === 0) this.setAutoPrefixes(info);
      this.joinPending();
    }
    if (this.opts.downstream.includes(info.name)) {
      const cap = this.captures.get(info.name);
      if (cap && cap.ifindex === info.index && info.up) return;
      cap?.close();
      this.captures.delete(info.name);
      // A packet socket binds to a down interface but every read then fails
      // with ENETDOWN: wait until it is up (the watcher reports the change).
      if (!info.up) return;
      try {
        this.captures.set(
          info.name,
          this.openCaptureFn(
            info.name,
            info.index,
            (f, n) => this.onFrame(f, n),
            (e) => this.captureError(info.name, e),
            (msg) => this.emit('warning', `allmulti:${info.name}`, msg),
          ),
        );
        this.emit('info', `capturing NDP on ${info.name} (ifindex ${info.index})${recreated ? ', re-created' : ''}`);
        void this.sweepNeighbours(info.name);
      } catch (err) {
        this.emit('warning', `capture-open:${info.name}`, `cannot capture on ${info.name}: ${(err as Error).message}; retrying`);
      }
    }
  }

  // Re-read at most once a second: addresses change rarely, floods do not
  // make us read /proc per frame, and a new address is seen within a second.
  private isOwnAddress(address: Uint8Array): boolean {
    const text = formatIPv6(address);
    if (this.table.get(text)) return false; // learned while it was not ours: let it expire
    const now = this.tick();
    if (now - this.ownReadAt > 1000 || now < this.ownReadAt) {
      this.ownAddresses = this.readOwn();
      this.ownReadAt = now;
    }
    return this.ownAddresses.has(text);
  }

  private interfaceGone(name: string): void {
    if (name === this.opts.upstream) {
      this.emit('info', `upstream ${name} vanished; memberships will be restored when it is back`);
      this.joiner?.reset();
      this.joiner = undefined;
      this.table.resetJoined();
    }
    const cap = this.captures.get(name);
    if (cap) {
      cap.close();
      this.captures.delete(name);
      this.emit('info', `downstream ${name} vanished; waiting for it`);
    }
  }

  private captureError(name: string, err: Error): void {
    this.emit('warning', `capture-read:${name}`, `reading ${name} failed: ${err.message}; reopening`);
    this.captures.get(name)?.close();
    this.captures.delete(name);
    // check() reopens it within one check interval.
  }

  /** Opens captures on present downstreams that have none (after a failure). */
  private reopenCaptures(): void {
    for (const name of this.opts.downstream) {
      const info = this.watcher.get(name);
      if (info && info.up && !this.captures.has(name)) this.interfaceUp(info, info);
    }
  }

  private setAutoPrefixes(info: IfaceInfo): void {
    const prefixes = upstreamPrefixes(info);
    const text = prefixes.map((p) => `${formatIPv6(p.bytes)}/${p.prefixLength}`).sort();
    if (text.join() === this.prefixText.join()) return;
    this.prefixText = text;
    this.filter = createAddressFilter(prefixes);
    this.emit('info', text.length ? `prefixes from ${info.name}: ${text.join(', ')}` : `no global prefix on ${info.name} yet; learning nothing until it has one`);
  }

  // --- learning -------------------------------------------------------------

  private onFrame(frame: Uint8Array, ifname: string): void {
    this.counters.frames++;
    let msg;
    try {
      msg = decodeNdpFrame(frame);
    } catch (err) {
      if (err instanceof NdpError) {
        if (err.reason !== 'not-ndp') this.counters.malformed[err.reason] = (this.counters.malformed[err.reason] ?? 0) + 1;
        return;
      }
      throw err;
    }
    this.counters.ndp++;
    for (const address of learnableAddresses(msg)) this.learn(address, ifname, 'ndp');
  }

  private learn(address: Uint8Array, ifname: string, source: AddressSource): void {
    // A host resolving the router names the router's own address as target.
    const verdict = this.isOwnAddress(address) ? 'own-address' : this.filter(address);
    if (verdict !== 'ok') {
      this.counters.ignored[verdict] = (this.counters.ignored[verdict] ?? 0) + 1;
      return;
    }
    const r = this.table.touch(address, ifname, source);
    if (r.status === 'refused') {
      this.counters.refused++;
      this.emit('refused', r.address, this.table.maxAddresses);
      return;
    }
    if (r.status === 'added') {
      this.counters.learned++;
      this.emit('learned', r.entry.address, ifname, source);
      if (r.join) this.join(r.entry.group, r.entry.address, ifname);
    }
  }

  private async sweepNeighbours(only?: string): Promise<void> {
    for (const name of only ? [only] : this.opts.downstream) {
      if (this.closed || !this.watcher.get(name)) continue;
      try {
        const entries = parseNeighbourJson(await this.readNeighbours(name));
        if (this.closed) return;
        for (const a of aliveAddresses(entries)) this.learn(a, name, 'neigh');
      } catch (err) {
        this.emit('warning', `neigh:${name}`, `cannot read the neighbour table of ${name}: ${(err as Error).message}`);
      }
    }
  }

  // --- memberships ----------------------------------------------------------

  private join(group: string, address: string, seenOn: string): void {
    const up = this.watcher.get(this.opts.upstream);
    if (!up) return; // joined when the upstream appears
    try {
      this.joiner ??= this.makeJoiner(this.opts.upstream);
      this.joiner.join(group);
    } catch (err) {
      this.counters.joinFailures++;
      this.emit('warning', 'join', `cannot join ${group} on ${this.opts.upstream}: ${(err as Error).message}; retrying`);
      return;
    }
    this.counters.joins++;
    this.table.setJoined(group, true);
    this.emit('joined', group, address, this.opts.upstream, seenOn);
  }

  private joinPending(): void {
    const pending = new Set(this.table.unjoinedGroups());
    if (pending.size === 0) return;
    for (const e of this.table.snapshot()) {
      if (!pending.delete(e.group)) continue;
      this.join(e.group, e.address, e.interface);
    }
  }

  private removed(entry: RemovedEntry, reason: string): void {
    if (!entry.leave) return;
    if (this.joiner?.has(entry.group)) {
      this.joiner.leave(entry.group);
      this.counters.leaves++;
      this.emit('left', entry.group, entry.address, this.opts.upstream, reason);
    }
  }

  // --- state ----------------------------------------------------------------

  private restoreState(): void {
    const file = this.opts.stateFile;
    if (!file) return;
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.emit('warning', 'state', `cannot read state file ${file}: ${(err as Error).message}`);
      return;
    }
    try {
      const state = decodeStateFile(text);
      const r = this.table.restore(state.entries.map((e) => ({ ...e, lastSeen: tickOf(e.lastSeen, this.now, this.tick) })));
      this.emit('info', `restored ${r.restored} addresses from ${file} (${r.expired} expired, ${r.refused} over the limit)`);
    } catch (err) {
      this.emit('warning', 'state', `ignoring state file ${file}: ${(err as Error).message}`);
    }
  }

  saveState(): void {
    const file = this.opts.stateFile;
    if (!file) return;
    try {
      writeFileAtomic(file, encodeStateFile(this.wallSnapshot(), this.now()), 0o600);
    } catch (err) {
      this.emit('warning', 'state', `cannot save state to ${file}: ${(err as Error).message}`);
    }
  }

  // --- control --------------------------------------------------------------

  /** Applies a new configuration (SIGHUP); the learned table is kept. */
  reconfigure(next: MldProxyOptions): void {
    const prev = this.opts;
    this.opts = next;
    if (next.timeoutMs !== prev.timeoutMs || next.maxAddresses !== prev.maxAddresses) {
      const joined = new Set(this.table.groups().filter((g) => g.joined).map((g) => g.group));
      const old = this.table.snapshot();
      this.table = new AddressTable({ timeoutMs: next.timeoutMs, maxAddresses: next.maxAddresses, now: this.tick });
      this.table.restore(old);
      const kept = new Set(this.table.groups().map((g) => g.group));
      for (const g of joined) {
        if (kept.has(g)) this.table.setJoined(g, true);
        else this.joiner?.leave(g); // every address of it fell outside the new bounds
      }
    }
    if (next.upstream !== prev.upstream) {
      this.joiner?.close();
      this.joiner = undefined;
      this.table.resetJoined();
    }
    const cidrText = (list: Cidr[]) => list.map((p) => `${formatIPv6(p.bytes)}/${p.prefixLength}`);
    if (cidrText(next.prefixes).join() !== cidrText(prev.prefixes).join() || next.upstream !== prev.upstream) {
      this.prefixText = cidrText(next.prefixes);
      this.filter = createAddressFilter(next.prefixes);
      const up = this.watcher.get(next.upstream);
      if (next.prefixes.length === 0 && up) this.setAutoPrefixes(up);
    }
    for (const [name, cap] of this.captures) {
      if (!next.downstream.includes(name)) {
        cap.close();
        this.captures.delete(name);
      }
    }
    this.watcher.setNames([next.upstream, ...next.downstream]);
    // Interfaces newly named are reported by the watcher as they appear.
    this.watcher.update();
    for (const name of [next.upstream, ...next.downstream]) {
      const info = this.watcher.get(name);
      if (info) this.interfaceUp(info, info); // as if unchanged: no repeated log lines
    }
    this.startTimers();
    this.check();
  }

  status(): MldProxyStatus {
    const { addressCount: _, ...rest } = this.summary();
    return { ...rest, addresses: this.wallSnapshot() };
  }

  /** status() without the address list (a copy of the whole table): what the metrics read at each scrape. */
  summary(): Omit<MldProxyStatus, 'addresses'> & { addressCount: number } {
    const up = this.watcher.get(this.opts.upstream);
    return {
      upstream: { name: this.opts.upstream, present: !!up, groups: this.joiner?.size ?? 0, sockets: this.joiner?.sockets ?? 0 },
      downstream: this.opts.downstream.map((name) => ({ name, present: !!this.watcher.get(name), capturing: this.captures.has(name) })),
      prefixes: this.prefixText,
      timeoutMs: this.opts.timeoutMs,
      maxAddresses: this.opts.maxAddresses,
      addressCount: this.table.size,
      counters: this.counters,
      startedAt: this.startedAt,
    };
  }

  /** The table with lastSeen as wall time, for the state file and the status. */
  private wallSnapshot(): AddressEntry[] {
    // The snapshot is made of copies: convert them in place rather than copy
    // 4096 entries again (a status query is ~0.5 MB of JSON already).
    const entries = this.table.snapshot();
    for (const e of entries) e.lastSeen = wallTimeOf(e.lastSeen, this.now, this.tick);
    return entries;
  }

  /** Stops learning, saves state and leaves every group (the kernel sends MLD Done). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.watcher.close();
    for (const cap of this.captures.values()) cap.close();
    this.captures.clear();
    this.saveState();
    this.joiner?.close();
    this.joiner = undefined;
  }
}

export function createMldProxy(opts: MldProxyOptions, deps?: MldProxyDeps): MldProxy {
  return new MldProxy(opts, deps);
}
