// One forwarding rule at run time: the listening socket, and one upstream
// socket per client session, all opened by the native layer.
//
// With reply aliases the upstream sockets are not connected: a connected UDP
// socket only hears its peer, and the point is to hear the aliases too. So
// every datagram on them is checked against the upstream and the aliases, and
// the rest is dropped and counted (no injection from elsewhere). Linux reports
// no ICMP errors to unconnected sockets, so there an unreachable upstream shows
// as requests without replies.
//
// Without aliases the session socket is connected to the upstream: the kernel
// then drops foreign datagrams itself (they are not counted), skips a route
// lookup per datagram, and reports ICMP errors (ECONNREFUSED and kin), which
// are counted on the session like send errors. Neither ever stops the proxy.
//
// The data path (ProxyIo, shared by the rules of a daemon): a wakeup of the
// listener receives up to a batch of datagrams into preallocated slots and
// sends each run of them that belongs to one session with one call on that
// session's socket, from the same slots. Replies: one epoll set per rule says
// which session sockets are readable; their datagrams are received into the
// slots and go back to the clients with one call on the listener. Per
// datagram: a lookup by numbers, a few counters, no Buffer, no object, no log
// line. A wakeup moves at most MAX_BATCHES batches, then yields to the loop:
// readiness is level-triggered, so what is left is reported again. It asks
// again within a wakeup only when a batch came back full.
import { wallTimeOf } from '../lib/clock';
import { cidrContains, formatCidr, parseIPv4, parseIPv6 } from '../lib/ip';
import { EpollSet } from '../lib/epoll';
import { allocBlock, watchReadable, type NativeBlock, type ReadableWatch } from '../lib/native';
import { MessageVector } from '../lib/msghdr';
import { emptySockAddr, formatAddress, readSockAddrInto, sockAddr, writeSockAddr, type SockAddr } from '../lib/sockaddr';
import {
  bindSocket,
  closeSocket,
  connectSocket,
  DatagramRing,
  errnoName,
  localAddress,
  newSendOutcome,
  openUdpSocket,
  sendBatch,
  setBufferSizes,
  type SendOutcome,
} from '../lib/udp-socket';
import { SyscallError } from '../lib/native';
import { createReplyMatcher, type ReplyMatcher } from './alias';
import type { RuleOptions } from './config';
import { formatEndpoint } from './endpoint';
import { SessionTable, type SessionEntry } from './session-table';

export const BATCH = 64;
/** Batches one wakeup may move before it yields to the event loop. */
const MAX_BATCHES = 8;
/** Datagrams taken from one session socket per turn, so a busy one cannot crowd out the rest. */
const PER_SESSION = 16;
/** A slot holds the largest UDP datagram, so none is ever truncated. */
const SLOT_BYTES = 65536;
/** The least the listener asks for per call: requests from many clients arrive together. */
const LISTEN_MIN = 8;

/**
 * How many datagrams to ask a socket for next time (between min and max):
 * twice as many after a call that filled what it asked for (a burst: batch
 * it), what the last call got otherwise. Each slot asked for is a header to
 * make ready, and recvmmsg tries once more after the last datagram it finds
 * (failing with EAGAIN): a session with one request in flight, asked for 16,
 * paid both for each reply.
 */
export function nextWidth(width: number, got: number, min: number, max: number): number {
  if (got >= width) return Math.min(max, width * 2);
  return Math.max(min, got);
}

export interface Flow {
  packets: number;
  bytes: number;
}

export interface Session {
  id: number;
  fd: number;
  /** The listener's family: how the client is written back (sockaddr_in or _in6). */
  family: 4 | 6;
  scopeId: number;
  upPackets: number;
  upBytes: number;
  downPackets: number;
  downBytes: number;
  /** Datagrams on the session's socket from neither upstream nor alias. */
  foreign: number;
  sendErrors: number;
  socketErrors: number;
  lastError?: string;
  openedAt: number;
  /** How many datagrams the next receive on its socket asks for (nextWidth). */
  width: number;
}

export interface RuleCounters {
  toUpstream: Flow;
  toClient: Flow;
  sessionsOpened: number;
  sessionsExpired: number;
  /** Evicted by maxSessions. */
  sessionsEvicted: number;
  /** Evicted by maxSessionsPerClient: the client's own oldest, for its new one. */
  sessionsEvictedPerClient: number;
  sendErrors: number;
  socketErrors: number;
  drops: { notAllowed: number; foreignSource: number; noSocket: number };
}

export interface SessionStatus {
  client: string;
  localPort: number;
  lastSeen: number;
  openedAt: number;
  toUpstream: Flow;
  toClient: Flow;
  foreign: number;
  sendErrors: number;
  socketErrors: number;
  lastError?: string;
}

export interface RuleStatus {
  name: string;
  listen: string;
  listening: boolean;
  upstream: string;
  aliases: string[];
  /** Replies accepted from the upstream (index 0) and from each alias (1..). */
  replies: number[];
  idleTimeoutMs: number;
  maxSessions: number;
  maxSessionsPerClient: number;
  allow: string[];
  counters: RuleCounters;
  sessions: SessionStatus[];
}

/** What the metrics need of a rule: its counters and the session count, not the sessions. */
export interface RuleCounts {
  name: string;
  listening: boolean;
  /** The upstream, then each alias, as status shows them; replies[i] came from sources[i]. */
  sources: string[];
  replies: readonly number[];
  counters: RuleCounters;
  sessions: number;
  maxSessions: number;
}

/** The slots and header vectors the rules of one daemon share: the loop is single-threaded. */
export class ProxyIo {
  readonly ring = new DatagramRing(BATCH, SLOT_BYTES);
  /** Replies: headers pointing into ring slots, each with its own client address. */
  readonly out: MessageVector;
  readonly outcome: SendOutcome = newSendOutcome();
  /** A datagram's source, read in place. */
  readonly src: SockAddr = emptySockAddr();
  private readonly outBlock: NativeBlock;

  constructor(readonly batched: boolean) {
    this.outBlock = allocBlock(MessageVector.bytes(BATCH));
    this.out = new MessageVector(this.outBlock.view, this.outBlock.base, 0, BATCH);
  }

  free(): void {
    this.ring.free();
    this.outBlock.free();
  }
}

export interface RuleDeps {
  io: ProxyIo;
  /** Wall clock, for the status. */
  now: () => number;
  /** Monotonic clock: idle timeouts survive a step of the wall clock. */
  tick: () => number;
  warning: (key: string, message: string) => void;
  debug: (message: string) => void;
  /** Whether debug lines are wanted: a flood of sessions must not build strings nobody reads. */
  debugging: () => boolean;
}

const newFlow = (): Flow => ({ packets: 0, bytes: 0 });

function errorCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}

export class ProxyRule {
  readonly opts: RuleOptions;
  readonly table: SessionTable<Session>;
  readonly counters: RuleCounters = {
    toUpstream: newFlow(),
    toClient: newFlow(),
    sessionsOpened: 0,
    sessionsExpired: 0,
    sessionsEvicted: 0,
    sessionsEvictedPerClient: 0,
    sendErrors: 0,
    socketErrors: 0,
    drops: { notAllowed: 0, foreignSource: 0, noSocket: 0 },
  };
  readonly replies: number[];
  private readonly deps: RuleDeps;
  private readonly io: ProxyIo;
  private readonly match: ReplyMatcher;
  private readonly connected: boolean;
  private readonly upFamily: 4 | 6;
  private readonly upstream: SockAddr;
  /** The upstream's sockaddr in native memory, for unconnected sends. */
  private readonly upBlock: NativeBlock;
  private readonly upLen: number;
  /** Where a session socket of an aliased rule binds: any address, any port. */
  private readonly anyAddress: SockAddr;
  private readonly byId = new Map<number, SessionEntry<Session>>();
  private nextId = 1;
  private listenFd = -1;
  private listenFamily: 4 | 6 = 4;
  private listenWidth = LISTEN_MIN;
  private listenWatch: ReadableWatch | undefined;
  private epoll: EpollSet | undefined;
  private listening = false;
  private closed = false;

  constructor(opts: RuleOptions, deps: RuleDeps) {
    this.opts = opts;
    this.deps = deps;
    this.io = deps.io;
    this.table = new SessionTable<Session>({
      idleTimeoutMs: opts.idleTimeoutMs,
      maxSessions: opts.maxSessions,
      maxPerClient: opts.maxSessionsPerClient,
      now: deps.tick,
    });
    this.match = createReplyMatcher(opts.upstream, opts.aliases);
    this.replies = new Array(opts.aliases.length + 1).fill(0);
    this.connected = opts.aliases.length === 0;
    this.upFamily = opts.upstream.family;
    this.upstream = sockAddr(opts.upstream.address, opts.upstream.port, opts.upstream.family);
    this.upBlock = allocBlock(64);
    this.upLen = writeSockAddr(this.upBlock.view, 0, this.upstream);
    this.anyAddress = sockAddr(this.upFamily === 6 ? '::' : '0.0.0.0', 0, this.upFamily);
  }

  get isListening(): boolean {
    return this.listening;
  }

  /** Binds the listening socket; rejects when that is impossible (port in use, no such address). */
  async listen(): Promise<void> {
    if (this.listening || this.closed) return;
    const l = this.opts.listen;
    if (l.address !== undefined) return this.bind(l.family === 6 ? 6 : 4, l.address);
    // Every address: one dual-stack socket, or IPv4 only where IPv6 is off.
    try {
      this.bind(6, '::');
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL' && code !== 'EINVAL') throw err;
      this.bind(4, '0.0.0.0');
    }
  }

  private bind(family: 4 | 6, address: string): void {
    const where = formatEndpoint({ family, address, port: this.opts.listen.port });
    let fd = -1;
    try {
      fd = openUdpSocket(family);
      bindSocket(fd, sockAddr(address, this.opts.listen.port, family));
    } catch (err) {
      if (fd >= 0) closeSocket(fd);
      const e = new Error(`cannot listen on ${where}: ${errorCode(err)}`) as Error & { errno?: number; code?: string };
      if (err instanceof SyscallError) {
        e.errno = err.errno;
        e.code = err.code;
      }
      throw e;
    }
    // Bursts from many clients queue here; the kernel caps it at [rw]mem_max.
    setBufferSizes(fd, 4 << 20);
    this.listenFd = fd;
    this.listenFamily = family;
    this.epoll = new EpollSet(BATCH, () => this.onReplies());
    this.listenWatch = watchReadable(fd, () => this.onClients());
    this.listening = true;
  }

  // ---------------------------------------------------------- client -> upstream

  private onClients(): void {
    const io = this.io;
    const ring = io.ring;
    const msgs = ring.msgs;
    const src = io.src;
    for (let b = 0; b < MAX_BATCHES && this.listenFd >= 0; b++) {
      const want = this.listenWidth;
      const n = ring.recv(this.listenFd, 0, want, io.batched);
      if (n < 0) {
        this.counters.socketErrors++;
        this.deps.warning(`listen:${this.opts.name}`, `${this.opts.name}: listening socket: ${errnoName(-n)}`);
        return;
      }
      let run: SessionEntry<Session> | undefined;
      let runStart = 0;
      for (let i = 0; i < n; i++) {
        let entry: SessionEntry<Session> | undefined;
        if (readSockAddrInto(ring.view, ring.nameOffset(i), src)) {
          entry = this.table.get(src.w0, src.w1, src.w2, src.w3, src.port);
          if (entry !== undefined) this.table.touch(entry);
          else {
            // Send what is pending first: opening may evict that very session,
            // and its fd number would go to the new socket.
            if (run !== undefined) this.forward(run, runStart, i - runStart);
            run = undefined;
            entry = this.openSession(src);
          }
        }
        if (entry !== run) {
          if (run !== undefined) this.forward(run, runStart, i - runStart);
          run = entry;
          runStart = i;
        }
        if (entry === undefined) continue;
        const len = ring.length(i);
        const s = entry.value;
        s.upPackets++;
        s.upBytes += len;
        this.counters.toUpstream.packets++;
        this.counters.toUpstream.bytes += len;
        msgs.setIovLength(i, 0, len);
        if (this.connected) msgs.noName(i);
        else msgs.useName(i, this.upBlock.base, this.upLen);
      }
      if (run !== undefined) this.forward(run, runStart, n - runStart);
      this.listenWidth = nextWidth(want, n, LISTEN_MIN, BATCH);
      if (n < want) return;
    }
  }

  private forward(entry: SessionEntry<Session>, first: number, count: number): void {
    const out = this.io.outcome;
    const s = entry.value;
    sendBatch(s.fd, this.io.ring.msgs, first, count, this.io.batched, out);
    if (out.failed > 0) {
      s.sendErrors += out.failed;
      s.lastError = errnoName(out.errno);
      this.counters.sendErrors += out.failed;
    }
  }

  // ---------------------------------------------------------- upstream -> client

  private onReplies(): void {
    const epoll = this.epoll;
    const io = this.io;
    const ring = io.ring;
    const src = io.src;
    const out = io.out;
    for (let b = 0; b < MAX_BATCHES && epoll !== undefined && this.listenFd >= 0; b++) {
      const ready = epoll.wait();
      if (ready === 0) return;
      // Another round only when this one may have left datagrams behind: a
      // full set of ready sockets, or a socket that filled a whole share.
      // Otherwise a second epoll_wait would nearly always find nothing (a
      // system call and an FFI call per wakeup); what arrives meanwhile keeps
      // the epoll fd readable, and the level-triggered poll calls us again.
      let more = ready === epoll.max;
      let slot = 0;
      let m = 0;
      for (let e = 0; e < ready; e++) {
        const entry = this.byId.get(epoll.id(e));
        if (entry === undefined) continue; // closed meanwhile
        const s = entry.value;
        if (slot === BATCH) {
          this.reply(m);
          slot = m = 0;
        }
        const want = Math.min(BATCH - slot, s.width);
        const n = ring.recv(s.fd, slot, want, io.batched);
        if (n < 0) {
          // An ICMP error on a connected socket (ECONNREFUSED and kin).
          s.socketErrors++;
          s.lastError = errnoName(-n);
          this.counters.socketErrors++;
          continue;
        }
        if (n === PER_SESSION) more = true;
        s.width = nextWidth(s.width, n, 1, PER_SESSION);
        const before = m;
        for (let i = slot; i < slot + n; i++) {
          const from = readSockAddrInto(ring.view, ring.nameOffset(i), src) ? this.match(src.w0, src.w1, src.w2, src.w3, src.port) : -1;
          if (from < 0) {
            s.foreign++;
            this.counters.drops.foreignSource++;
            continue;
          }
          this.replies[from]++;
          const len = ring.length(i);
          s.downPackets++;
          s.downBytes += len;
          this.counters.toClient.packets++;
          this.counters.toClient.bytes += len;
          out.setIov(m, 0, ring.dataAddress(i), len);
          out.useOwnName(m, writeSockAddr(out.view, out.nameOffset(m), this.clientAddress(entry, src)));
          m++;
        }
        if (m > before) this.table.touch(entry);
        slot += n;
      }
      this.reply(m);
      if (!more) return;
    }
  }

  // The client as the listener saw it, into a reused SockAddr.
  private clientAddress(entry: SessionEntry<Session>, into: SockAddr): SockAddr {
    into.family = entry.value.family;
    into.w0 = entry.w0;
    into.w1 = entry.w1;
    into.w2 = entry.w2;
    into.w3 = entry.w3;
    into.port = entry.port;
    into.scopeId = entry.value.scopeId;
    return into;
  }

  private reply(count: number): void {
    if (count === 0 || this.listenFd < 0) return;
    const o = this.io.outcome;
    sendBatch(this.listenFd, this.io.out, 0, count, this.io.batched, o);
    if (o.failed > 0) this.counters.sendErrors += o.failed;
  }

  // ---------------------------------------------------------- sessions

  private allowed(a: SockAddr): boolean {
    const allow = this.opts.allow;
    if (allow.length === 0) return true;
    const text = formatAddress({ ...a, family: a.w0 === 0 && a.w1 === 0 && a.w2 === 0xffff ? 4 : 6 });
    const bytes = text.includes(':') ? parseIPv6(text) : parseIPv4(text);
    for (const c of allow) if (cidrContains(c, bytes)) return true;
    return false;
  }

  private openSession(a: SockAddr): SessionEntry<Session> | undefined {
    if (this.closed || this.epoll === undefined) return undefined;
    if (!this.allowed(a)) {
      this.counters.drops.notAllowed++;
      return undefined;
    }
    const id = this.nextId++;
    let fd = -1;
    try {
      fd = openUdpSocket(this.upFamily);
      if (this.connected) connectSocket(fd, this.upstream);
      else bindSocket(fd, this.anyAddress);
      this.epoll.add(fd, id);
    } catch (err) {
      if (fd >= 0) closeSocket(fd);
      this.counters.drops.noSocket++;
      const call = err instanceof SyscallError ? err.call : '';
      const what = call === 'bind' || call === 'connect' ? `cannot ${call} a socket` : 'cannot open a socket';
      this.deps.warning(`socket:${this.opts.name}`, `${this.opts.name}: ${what} for ${this.describeClient(a)}: ${errorCode(err)}`);
      return undefined;
    }
    const s: Session = {
      id,
      fd,
      family: a.family,
      scopeId: a.scopeId,
      upPackets: 0,
      upBytes: 0,
      downPackets: 0,
      downBytes: 0,
      foreign: 0,
      sendErrors: 0,
      socketErrors: 0,
      openedAt: this.deps.now(),
      width: 1,
    };
    const { entry, evicted, reason } = this.table.add(a.w0, a.w1, a.w2, a.w3, a.port, s);
    if (evicted) {
      if (reason === 'maxPerClient') this.counters.sessionsEvictedPerClient++;
      else this.counters.sessionsEvicted++;
      this.closeSession(evicted, reason === 'maxPerClient' ? 'evicted: maxSessionsPerClient reached' : 'evicted: maxSessions reached');
    }
    this.byId.set(id, entry);
    this.counters.sessionsOpened++;
    if (this.deps.debugging()) this.deps.debug(`${this.opts.name}: session for ${this.describeClient(a)} opened`);
    return entry;
  }

  private describeClient(a: { family: 4 | 6; w0: number; w1: number; w2: number; w3: number; port: number }): string {
    return formatEndpoint({ family: a.family, address: formatAddress(a), port: a.port });
  }

  private closeSession(entry: SessionEntry<Session>, why: string): void {
    const s = entry.value;
    if (this.byId.delete(s.id)) closeSocket(s.fd); // closing removes it from the epoll set
    if (this.deps.debugging()) this.deps.debug(`${this.opts.name}: session for ${formatAddress({ family: s.family, w0: entry.w0, w1: entry.w1, w2: entry.w2, w3: entry.w3 })} port ${entry.port} closed (${why})`);
  }

  /** Closes idle sessions. */
  sweep(): void {
    for (const e of this.table.expire()) {
      this.counters.sessionsExpired++;
      this.closeSession(e, 'idle');
    }
  }

  counts(): RuleCounts {
    const o = this.opts;
    return { name: o.name, listening: this.listening, sources: [formatEndpoint(o.upstream), ...o.aliases.map((a) => formatEndpoint(a))], replies: this.replies, counters: this.counters, sessions: this.table.size, maxSessions: o.maxSessions };
  }

  status(): RuleStatus {
    const o = this.opts;
    return {
      name: o.name,
      listen: formatEndpoint(o.listen),
      listening: this.listening,
      upstream: formatEndpoint(o.upstream),
      aliases: o.aliases.map((a) => formatEndpoint(a)),
      replies: [...this.replies],
      idleTimeoutMs: o.idleTimeoutMs,
      maxSessions: o.maxSessions,
      maxSessionsPerClient: o.maxSessionsPerClient,
      allow: o.allow.map(formatCidr),
      counters: this.counters,
      sessions: this.table.entries().map((e) => {
        const s = e.value;
        return {
          client: this.describeClient({ family: s.family, w0: e.w0, w1: e.w1, w2: e.w2, w3: e.w3, port: e.port }),
          localPort: localAddress(s.fd)?.port ?? 0,
          lastSeen: wallTimeOf(e.lastSeen, this.deps.now, this.deps.tick),
          openedAt: s.openedAt,
          toUpstream: { packets: s.upPackets, bytes: s.upBytes },
          toClient: { packets: s.downPackets, bytes: s.downBytes },
          foreign: s.foreign,
          sendErrors: s.sendErrors,
          socketErrors: s.socketErrors,
          lastError: s.lastError,
        };
      }),
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.listening = false;
    this.listenWatch?.close();
    this.listenWatch = undefined;
    if (this.listenFd >= 0) closeSocket(this.listenFd);
    this.listenFd = -1;
    for (const e of this.table.clear()) this.closeSession(e, 'rule closed');
    this.epoll?.close();
    this.epoll = undefined;
    this.upBlock.free();
  }
}
