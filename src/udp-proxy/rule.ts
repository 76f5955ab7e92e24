// One forwarding rule at run time: the listening socket, and one upstream
// socket per client session.
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
// Per packet: a map lookup, a few counters, one send. No log line, no closure,
// no string built (dgram itself allocates the Buffer and rinfo).
import type dgram from 'node:dgram';
import { wallTimeOf } from '../lib/clock';
import { cidrContains, formatCidr, parseIPv4, parseIPv6 } from '../lib/ip';
import { createReplyMatcher, type ReplyMatcher } from './alias';
import type { RuleOptions } from './config';
import { formatEndpoint } from './endpoint';
import { SessionTable, type SessionEntry } from './session-table';

export type CreateSocket = (options: dgram.SocketOptions) => dgram.Socket;

export interface Flow {
  packets: number;
  bytes: number;
}

export interface Session {
  client: string;
  clientPort: number;
  socket: dgram.Socket;
  localPort: number;
  toUpstream: Flow;
  toClient: Flow;
  /** Datagrams on the session's socket from neither upstream nor alias. */
  foreign: number;
  sendErrors: number;
  socketErrors: number;
  lastError?: string;
  openedAt: number;
  /** Connected to the upstream (rules without aliases), once connect() finished. */
  connected: boolean;
  /** Datagrams that arrived while connect() was under way. */
  pending: Buffer[] | null;
  afterForward: (err: Error | null) => void;
  afterReply: (err: Error | null) => void;
}

export interface RuleCounters {
  toUpstream: Flow;
  toClient: Flow;
  sessionsOpened: number;
  sessionsExpired: number;
  sessionsEvicted: number;
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
  allow: string[];
  counters: RuleCounters;
  sessions: SessionStatus[];
}

export interface RuleDeps {
  createSocket: CreateSocket;
  /** Wall clock, for the status. */
  now: () => number;
  /** Monotonic clock: idle timeouts survive a step of the wall clock. */
  tick: () => number;
  warning: (key: string, message: string) => void;
  debug: (message: string) => void;
}

const MAX_PENDING = 64;

const newFlow = (): Flow => ({ packets: 0, bytes: 0 });

function errorCode(err: Error): string {
  return (err as NodeJS.ErrnoException).code ?? err.message;
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
    sendErrors: 0,
    socketErrors: 0,
    drops: { notAllowed: 0, foreignSource: 0, noSocket: 0 },
  };
  readonly replies: number[];
  private readonly deps: RuleDeps;
  private readonly match: ReplyMatcher;
  private readonly upAddress: string;
  private readonly upPort: number;
  private readonly upType: 'udp4' | 'udp6';
  private listener: dgram.Socket | undefined;
  private listening = false;
  private closed = false;

  constructor(opts: RuleOptions, deps: RuleDeps) {
    this.opts = opts;
    this.deps = deps;
    this.table = new SessionTable<Session>({ idleTimeoutMs: opts.idleTimeoutMs, maxSessions: opts.maxSessions, now: deps.tick });
    this.match = createReplyMatcher(opts.upstream, opts.aliases);
    this.replies = new Array(opts.aliases.length + 1).fill(0);
    this.upAddress = opts.upstream.address;
    this.upPort = opts.upstream.port;
    this.upType = opts.upstream.family === 6 ? 'udp6' : 'udp4';
  }

  get isListening(): boolean {
    return this.listening;
  }

  /** Binds the listening socket; rejects when that is impossible (port in use, no such address). */
  async listen(): Promise<void> {
    if (this.listening || this.closed) return;
    const l = this.opts.listen;
    if (l.address !== undefined) {
      await this.bind(l.family === 6 ? 'udp6' : 'udp4', l.address);
      return;
    }
    // Every address: one dual-stack socket, or IPv4 only where IPv6 is off.
    try {
      await this.bind('udp6', '::');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL' && code !== 'EINVAL') throw err;
      await this.bind('udp4', '0.0.0.0');
    }
  }

  private bind(type: 'udp4' | 'udp6', address: string): Promise<void> {
    const socket = this.deps.createSocket({ type, ipv6Only: false });
    return new Promise<void>((resolve, reject) => {
      const failed = (err: Error) => {
        socket.close();
        reject(new Error(`cannot listen on ${formatEndpoint({ family: type === 'udp6' ? 6 : 4, address, port: this.opts.listen.port })}: ${errorCode(err)}`));
      };
      socket.once('error', failed);
      socket.bind({ port: this.opts.listen.port, address, exclusive: true }, () => {
        socket.removeListener('error', failed);
        if (this.closed) {
          socket.close();
          return resolve();
        }
        socket.on('error', (err) => {
          this.counters.socketErrors++;
          this.deps.warning(`listen:${this.opts.name}`, `${this.opts.name}: listening socket: ${errorCode(err)}`);
        });
        socket.on('message', (msg, rinfo) => this.onClient(msg, rinfo));
        try {
          // Bursts from many clients queue here; the kernel caps it at rmem_max.
          socket.setRecvBufferSize(4 << 20);
        } catch {}
        this.listener = socket;
        this.listening = true;
        resolve();
      });
    });
  }

  private onClient(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    let entry = this.table.get(rinfo.address, rinfo.port);
    if (entry === undefined) {
      entry = this.openSession(rinfo.address, rinfo.port);
      if (entry === undefined) return;
    } else {
      this.table.touch(entry);
    }
    const s = entry.value;
    s.toUpstream.packets++;
    s.toUpstream.bytes += msg.length;
    this.counters.toUpstream.packets++;
    this.counters.toUpstream.bytes += msg.length;
    if (s.connected) s.socket.send(msg, s.afterForward);
    else if (s.pending === null) s.socket.send(msg, this.upPort, this.upAddress, s.afterForward);
    else if (s.pending.length < MAX_PENDING) s.pending.push(msg);
  }

  private onReply(entry: SessionEntry<Session>, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const s = entry.value;
    const from = this.match(rinfo.address, rinfo.port);
    if (from < 0) {
      s.foreign++;
      this.counters.drops.foreignSource++;
      return;
    }
    this.replies[from]++;
    if (this.listener === undefined) return; // closing
    this.table.touch(entry);
    s.toClient.packets++;
    s.toClient.bytes += msg.length;
    this.counters.toClient.packets++;
    this.counters.toClient.bytes += msg.length;
    this.listener.send(msg, s.clientPort, s.client, s.afterReply);
  }

  private allowed(address: string): boolean {
    const allow = this.opts.allow;
    if (allow.length === 0) return true;
    // A dual-stack socket shows IPv4 clients as ::ffff:a.b.c.d.
    const v4 = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address.includes(':') ? undefined : address;
    let bytes: Uint8Array;
    try {
      bytes = v4 !== undefined ? parseIPv4(v4) : parseIPv6(address.split('%')[0]);
    } catch {
      return false;
    }
    for (const c of allow) if (cidrContains(c, bytes)) return true;
    return false;
  }

  private openSession(client: string, clientPort: number): SessionEntry<Session> | undefined {
    if (this.closed) return undefined;
    if (!this.allowed(client)) {
      this.counters.drops.notAllowed++;
      return undefined;
    }
    let socket: dgram.Socket;
    try {
      socket = this.deps.createSocket({ type: this.upType });
    } catch (err) {
      this.counters.drops.noSocket++;
      this.deps.warning(`socket:${this.opts.name}`, `${this.opts.name}: cannot open a socket for ${client}: ${errorCode(err as Error)}`);
      return undefined;
    }
    const rule = this;
    const s: Session = {
      client,
      clientPort,
      socket,
      localPort: 0,
      toUpstream: newFlow(),
      toClient: newFlow(),
      foreign: 0,
      sendErrors: 0,
      socketErrors: 0,
      openedAt: this.deps.now(),
      connected: false,
      pending: null,
      afterForward(err) {
        if (err) rule.sendFailed(s, err);
      },
      afterReply(err) {
        if (err) rule.sendFailed(s, err);
      },
    };
    const { entry, evicted } = this.table.add(client, clientPort, s);
    if (evicted) {
      this.counters.sessionsEvicted++;
      this.closeSession(evicted, 'evicted: maxSessions reached');
    }
    this.counters.sessionsOpened++;
    socket.on('message', (msg, rinfo) => this.onReply(entry, msg, rinfo));
    socket.on('error', (err) => {
      s.socketErrors++;
      s.lastError = errorCode(err);
      this.counters.socketErrors++;
      // A socket that could not even bind is useless: let the next datagram open another.
      const syscall = (err as NodeJS.ErrnoException).syscall;
      if ((syscall === 'bind' || syscall === 'connect') && this.table.delete(entry)) {
        this.counters.drops.noSocket++;
        this.closeSession(entry, `cannot ${syscall}: ${s.lastError}`);
        this.deps.warning(`socket:${this.opts.name}`, `${this.opts.name}: cannot ${syscall} a socket for ${client}: ${s.lastError}`);
      }
    });
    socket.bind(0, () => {
      try {
        s.localPort = socket.address().port;
      } catch {}
    });
    if (this.opts.aliases.length === 0) {
      s.pending = [];
      socket.connect(this.upPort, this.upAddress, () => {
        const queued = s.pending ?? [];
        s.pending = null;
        s.connected = true;
        for (const m of queued) socket.send(m, s.afterForward);
      });
    }
    this.deps.debug(`${this.opts.name}: session for ${formatEndpoint({ family: client.includes(':') ? 6 : 4, address: client, port: clientPort })} opened`);
    return entry;
  }

  private sendFailed(s: Session, err: Error): void {
    s.sendErrors++;
    s.lastError = errorCode(err);
    this.counters.sendErrors++;
  }

  private closeSession(entry: SessionEntry<Session>, why: string): void {
    const s = entry.value;
    try {
      s.socket.close();
    } catch {} // closed already
    this.deps.debug(`${this.opts.name}: session for ${s.client} port ${s.clientPort} closed (${why})`);
  }

  /** Closes idle sessions. */
  sweep(): void {
    for (const e of this.table.expire()) {
      this.counters.sessionsExpired++;
      this.closeSession(e, 'idle');
    }
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
      allow: o.allow.map(formatCidr),
      counters: this.counters,
      sessions: this.table.entries().map((e) => ({
        client: formatEndpoint({ family: e.address.includes(':') ? 6 : 4, address: e.address, port: e.port }),
        localPort: e.value.localPort,
        lastSeen: wallTimeOf(e.lastSeen, this.deps.now, this.deps.tick),
        openedAt: e.value.openedAt,
        toUpstream: e.value.toUpstream,
        toClient: e.value.toClient,
        foreign: e.value.foreign,
        sendErrors: e.value.sendErrors,
        socketErrors: e.value.socketErrors,
        lastError: e.value.lastError,
      })),
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.listening = false;
    try {
      this.listener?.close();
    } catch {}
    this.listener = undefined;
    for (const e of this.table.clear()) this.closeSession(e, 'rule closed');
  }
}
