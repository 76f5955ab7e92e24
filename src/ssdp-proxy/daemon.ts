// The ssdp-proxy daemon. LAN side (lans.ts): the SSDP group on port 1900 of
// every LAN interface, shared with any other SSDP listener. Relay side: one
// socket on the relay port that talks to the configured peers only.
//
//   LAN M-SEARCH  -> pending (client addr, port, ST, MX) under a request id -> search frame to peers
//   search frame  -> multicast on our LANs from a fresh socket; each unicast reply -> reply frame back
//   reply frame   -> to the client's own address and port, while MX + 1 s has not passed
//   LAN NOTIFY    -> notify frame to peers -> multicast on their LANs
//   hub           -> forwards searches, replies and notifies between spokes (hop limit, id cache)
//   IPv6          -> the same on ff02::c; the HOST header says which group a relayed message is for
//   every frame   -> names its sender and recipient (relay-addresses.ts): one sent to us by that peer, or refused
//   --mdns        -> mDNS too, over the same link (mdns-relay.ts: its LAN side, filter and counters)
import dgram from 'node:dgram';
import { TypedEmitter } from 'tiny-typed-emitter';
import { monotonicMs } from '../lib/clock';
import { createInterfaceWatcher, type InterfaceWatcher, type InterfaceWatcherOptions } from '../lib/interfaces';
import type { DaemonLogEvents } from '../lib/log';
import { noteReceived } from '../lib/memory';
import { Histogram } from '../lib/metrics';
import { DEFAULT_MAX_PENDING_PER_HOST, type SsdpProxyConfig } from './config';
import { bump, newPeerCounters, type PeerCounters, type SsdpProxyStatus } from './counters';
import { compileFilter, type Filter } from './filter';
import { decodeFrame, encodeFrame, FrameError, newMessageId, ReplayGuard, type Frame, type FrameType } from './frame';
import { LanSide, quietly, SSDP_PORT, type CreateSocket, type Lan } from './lans';
import { MdnsRelay } from './mdns-relay';
import { header, parseSsdp, searchWaitSeconds, SsdpParseError, type SsdpMessage } from './message';
import { PendingSearchTable } from './pending';
import { kernelSourceAddress, RelayAddresses, type LocalAddressFor } from './relay-addresses';

export type { SsdpProxyStatus } from './counters';

/** A frame passes at most this many proxies after the one it entered at (spoke -> hub -> spoke). */
export const MAX_HOPS = 2;
export const REPLAY_WINDOW_MS = 30_000;
/** The request id of a frame that answers no search. */
const NO_REQUEST = '0000000000000000';

export type SsdpProxyOptions = Pick<SsdpProxyConfig, 'lans' | 'peers' | 'key' | 'hub' | 'port' | 'maxPending'> &
  Partial<Pick<SsdpProxyConfig, 'filters' | 'maxPendingPerHost' | 'mdns'>>;

export interface SsdpProxyDeps {
  /** Wall clock: frame timestamps and the replay window, which peers must agree on. */
  now?: () => number;
  /** Search deadlines (MX + 1 s), monotonic; default: now if given, else performance.now. */
  tick?: () => number;
  createSocket?: CreateSocket;
  readInterfaces?: InterfaceWatcherOptions['read'];
  watchIntervalMs?: number;
  sweepIntervalMs?: number;
  /** Our source address toward a peer (default: the kernel's route lookup). */
  localAddressFor?: LocalAddressFor;
}

export type SsdpProxyEvents = DaemonLogEvents;

interface RemoteSearch {
  socket: dgram.Socket;
  /** Where the search came from: our reply frames go back there. */
  peer: string;
}

interface HubRoute {
  peer: string;
}

function literalLookup(address: string, family: unknown, cb: (err: Error | null, address: string, family: number) => void): void {
  cb(null, address, address.includes(':') ? 6 : 4);
}

/**
 * The sockets of the daemon (CreateSocket in lans.ts). A shared one takes
 * reusePort as well as reuseAddr: a responder on the router may have bound
 * port 5353 with either.
 */
export const udpSocket: CreateSocket = (type, shared) => {
  const s = dgram.createSocket({ type, reuseAddr: shared, reusePort: shared, ipv6Only: type === 'udp6', lookup: literalLookup });
  // Node receives every datagram into a buffer of its own: counted here, for
  // every socket of the daemon, so a flood cannot pile them up (lib/memory.ts).
  s.on('message', (msg) => noteReceived(msg.length));
  return s;
};

// The relay carries both families; which group a message is for is in its HOST
// header ("[FF02::C]:1900" or "239.255.255.250:1900").
function isIPv6Message(m: SsdpMessage): boolean {
  return (header(m, 'HOST') ?? '').includes('[');
}

// Devices answer within the search's MX (1-5 s); the relay and the VPN add milliseconds.
export const REPLY_DELAY_BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5];

export class SsdpProxy extends TypedEmitter<SsdpProxyEvents> {
  private opts: SsdpProxyOptions;
  private readonly now: () => number;
  /** The monotonic clock of every timeout (src/lib/clock.ts). */
  private readonly tick: () => number;
  private readonly createSocket: CreateSocket;
  private readonly startedAt: number;
  private readonly lanSide: LanSide;
  private peers = new Map<string, PeerCounters>();
  private drops: Record<string, number> = {};
  /** Seconds from a LAN client's search to each reply routed back to it (the metrics' histogram). */
  readonly replyDelay = new Histogram(REPLY_DELAY_BOUNDS);
  private relay: { udp4?: dgram.Socket; udp6?: dgram.Socket } = {};
  /** Send NOTIFYs on our LANs; their ports mark them as ours when they loop back. */
  private notifySocket?: dgram.Socket;
  private notifySocket6?: dgram.Socket;
  /** Local ports of our sending sockets: a datagram from one of them and one of our addresses is our own. */
  private ownPorts = new Set<number>();
  private readonly pending: PendingSearchTable;
  private readonly remote: PendingSearchTable<RemoteSearch>;
  private readonly hubRoutes: PendingSearchTable<HubRoute>;
  private readonly replay: ReplayGuard;
  private readonly relayAddresses: RelayAddresses;
  private relayTimer?: NodeJS.Timeout;
  private readonly watchIntervalMs: number;
  private readonly watcher: InterfaceWatcher;
  private sweepTimer?: NodeJS.Timeout;
  private readonly sweepIntervalMs: number;
  private closed = false;
  private mdns?: MdnsRelay;
  private outbound: Filter = () => true;
  private inbound: Filter = () => true;

  constructor(opts: SsdpProxyOptions, deps: SsdpProxyDeps = {}) {
    super();
    this.opts = opts;
    this.setFilters(opts);
    this.now = deps.now ?? Date.now;
    this.createSocket = deps.createSocket ?? udpSocket;
    this.startedAt = this.now();
    this.sweepIntervalMs = deps.sweepIntervalMs ?? 1000;
    const max = opts.maxPending;
    // Deadlines on the wall clock would, after a step back by an hour, keep every search
    // pending for that hour: the table fills and refuses all new ones.
    const tick = (this.tick = deps.tick ?? deps.now ?? monotonicMs);
    this.pending = new PendingSearchTable({ max, maxPerSource: opts.maxPendingPerHost ?? DEFAULT_MAX_PENDING_PER_HOST, now: tick });
    this.remote = new PendingSearchTable<RemoteSearch>({ max, now: tick, onExpire: (e) => this.closeSearchSocket(e.data.socket) });
    this.hubRoutes = new PendingSearchTable<HubRoute>({ max, now: tick });
    this.replay = new ReplayGuard(REPLAY_WINDOW_MS, 65536, this.now);
    this.relayAddresses = new RelayAddresses(deps.localAddressFor ?? kernelSourceAddress, tick);
    this.watchIntervalMs = deps.watchIntervalMs ?? 5000;
    for (const p of opts.peers) this.peers.set(p, newPeerCounters());
    this.lanSide = new LanSide(opts.lans, this.createSocket, (s, address, port, what) => this.bind(s, address, port, what));
    this.lanSide.on('message', (msg, rinfo, lan) => this.onLanMessage(msg, rinfo, lan));
    this.lanSide.on('info', (m) => this.emit('info', m));
    this.lanSide.on('warning', (k, m) => this.emit('warning', k, m));
    this.watcher = createInterfaceWatcher({ names: opts.lans, intervalMs: this.watchIntervalMs, read: deps.readInterfaces });
    this.watcher.on('appeared', (info) => (this.lanSide.up(info), this.mdns?.up(info)));
    this.watcher.on('changed', (info, prev) => (this.lanSide.up(info, prev), this.mdns?.up(info, prev)));
    this.watcher.on('vanished', (name) => (this.lanSide.down(name), this.mdns?.down(name)));
    if (opts.mdns) this.mdns = this.newMdns(opts);
  }

  private newMdns(o: SsdpProxyOptions): MdnsRelay {
    const relay = new MdnsRelay(
      { ...o.mdns!, lans: o.lans, peers: o.peers },
      {
        createSocket: this.createSocket,
        bind: (s, address, port, what) => this.bind(s, address, port, what),
        now: this.tick,
        toPeers: (payload, ipv6, origin, response) => this.mdnsToPeers(payload, ipv6, origin, response),
      },
    );
    relay.on('info', (m) => this.emit('info', m));
    relay.on('debug', (m) => this.emit('debug', m));
    relay.on('warning', (k, m) => this.emit('warning', k, m));
    return relay;
    this.watcher.on('warning', (err) => this.emit('warning', 'interfaces', `reading interfaces: ${err.message}`));
  }

  private setFilters(o: SsdpProxyOptions): void {
    this.outbound = compileFilter(o.filters?.outbound);
    this.inbound = compileFilter(o.filters?.inbound);
  }

  private async bind(socket: dgram.Socket, address: string | undefined, port: number, what: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address, port, exclusive: false }, () => {
        socket.removeListener('error', reject);
        resolve();
      });
    }).catch((err: NodeJS.ErrnoException) => {
      throw new Error(`cannot listen on UDP port ${port} (${what}): ${err.code === 'EACCES' ? 'permission denied (run as root)' : err.message}`);
    });
    socket.on('error', (err) => this.emit('warning', `socket-${what}`, `${what} socket: ${err.message}`));
  }

  async start(): Promise<void> {
    try {
      if (this.opts.lans.length) {
        await this.lanSide.listen();
        this.notifySocket = await this.sender('udp4', 'notify');
        this.emit('info', `listening for SSDP on port ${SSDP_PORT} of ${this.opts.lans.join(', ')}`);
        // IPv6 is a bonus: a kernel without it must not stop the IPv4 relay.
        this.notifySocket6 = await this.sender('udp6', 'notify IPv6').catch((err: Error) => {
          this.emit('warning', 'ipv6', `no IPv6 SSDP: ${err.message}`);
          return undefined;
        });
        await this.mdns?.listen();
      }
      await this.openRelay();
      await this.refreshRelayAddresses();
    } catch (err) {
      this.close();
      throw err;
    }
    this.watcher.start();
    this.sweepTimer = setInterval(() => this.sweep(), this.sweepIntervalMs);
    this.sweepTimer.unref();
    // Routes to the peers come and go with the VPN; our address toward each follows them.
    this.relayTimer = setInterval(() => {
      void this.refreshRelayAddresses();
      void this.mdns?.listen(); // if port 5353 could not be shared at start
    }, this.watchIntervalMs);
    this.relayTimer.unref();
  }

  private async refreshRelayAddresses(): Promise<void> {
    for (const c of await this.relayAddresses.refresh(this.opts.peers)) {
      if (this.closed) return;
      if (c.address) this.emit('info', `relay address toward ${c.peer}: ${c.address}${c.previous ? ` (was ${c.previous})` : ''}`);
      else this.emit('warning', `no-route-${c.peer}`, `no route to peer ${c.peer}; nothing is sent to it until there is one`);
    }
  }

  /** A socket on an ephemeral port that multicasts on our LANs; its port is marked as ours. */
  private async sender(type: 'udp4' | 'udp6', what: string): Promise<dgram.Socket> {
    const s = this.createSocket(type, false);
    try {
      await this.bind(s, undefined, 0, what);
    } catch (err) {
      s.close();
      throw err;
    }
    this.ownPorts.add(s.address().port);
    s.setMulticastTTL(2);
    return s;
  }

  /** One relay socket per address family the peers use, on the relay port. */
  private async openRelay(): Promise<void> {
    for (const type of ['udp4', 'udp6'] as const) {
      if (!this.opts.peers.some((p) => p.includes(':') === (type === 'udp6'))) continue;
      const s = this.createSocket(type, false);
      s.on('message', (msg, rinfo) => this.onRelayMessage(msg, rinfo.address));
      this.relay[type] = s;
      await this.bind(s, undefined, this.opts.port, type === 'udp4' ? 'relay' : 'relay IPv6');
    }
    this.emit('info', `relay on UDP port ${this.opts.port}${this.opts.hub ? ' (hub)' : ''}; peers ${this.opts.peers.join(', ')}`);
  }

  private closeRelay(): void {
    for (const s of Object.values(this.relay)) quietly(() => s.close());
    this.relay = {};
  }

  // ------------------------------------------------------------------ from the LAN

  private onLanMessage(msg: Buffer, rinfo: dgram.RemoteInfo, lan: Lan | undefined): void {
    // What we multicast ourselves comes back through loopback: never relay it again.
    if (this.ownPorts.has(rinfo.port) && this.lanSide.isOwnAddress(rinfo.address)) return;
    if (!lan) {
      bump(this.drops, 'not-from-a-lan');
      return;
    }
    let m: SsdpMessage;
    try {
      m = parseSsdp(msg);
    } catch (err) {
      lan.counters.malformed++;
      this.emit('debug', `${lan.name}: malformed SSDP from ${rinfo.address}:${rinfo.port}: ${(err as Error).message}`);
      return;
    }
    if (m.kind === 'search') this.lanSearch(lan, m, msg, rinfo);
    else if (m.kind === 'notify') this.lanNotify(lan, m, msg);
  }

  private lanSearch(lan: Lan, m: SsdpMessage, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if ((header(m, 'MAN') ?? '').replace(/"/g, '') !== 'ssdp:discover') {
      lan.counters.malformed++;
      return;
    }
    const st = header(m, 'ST') ?? '';
    if (!this.outbound(st)) return void lan.counters.filtered++;
    const mx = searchWaitSeconds(m);
    const id = newMessageId();
    const entry = this.pending.add({ id, clientAddress: rinfo.address, clientPort: rinfo.port, st, mx, data: undefined });
    if (!entry) {
      if (this.pending.atSourceQuota(rinfo.address)) {
        bump(this.drops, 'host-quota');
        this.emit('warning', `host-quota-${rinfo.address}`, `${rinfo.address} has ${this.pending.maxPerSource} searches waiting, the most per host; its further searches are refused until those expire`);
      } else {
        bump(this.drops, 'pending-full');
        this.emit('warning', 'pending-full', `pending searches full (${this.pending.max}); a search from ${rinfo.address} was not relayed`);
      }
      return;
    }
    lan.counters.searches++;
    this.emit('debug', `search ${id} from ${rinfo.address}:${rinfo.port} on ${lan.name}: ST ${st}, MX ${mx}`);
    this.sendToPeers('search', id, id, 0, this.lanSide.origin(lan), msg);
  }

  private lanNotify(lan: Lan, m: SsdpMessage, msg: Buffer): void {
    if (!this.outbound(header(m, 'NT') ?? '')) return void lan.counters.filtered++;
    lan.counters.notifies++;
    const id = newMessageId();
    this.replay.check({ id, timestamp: this.now() }); // a copy coming back through a hub is then a duplicate
    this.emit('debug', `notify ${id} on ${lan.name}: ${header(m, 'NTS') ?? ''} ${header(m, 'NT') ?? ''}`);
    this.sendToPeers('notify', id, NO_REQUEST, 0, this.lanSide.origin(lan), msg);
  }

  /** Sends a frame to one peer, from our relay address toward it. */
  private sendFrame(peer: string, f: Omit<Frame, 'sender' | 'recipient'>): boolean {
    const c = this.peers.get(peer);
    const socket = peer.includes(':') ? this.relay.udp6 : this.relay.udp4;
    if (!socket || !c) return false;
    const sender = this.relayAddresses.get(peer);
    if (!sender) return bump(c.drops, 'no-route'), false;
    socket.send(encodeFrame({ ...f, sender, recipient: peer }, this.opts.key), this.opts.port, peer, (err) => {
      if (err) this.emit('warning', `peer-${peer}`, `sending to peer ${peer}: ${err.message}`);
    });
    if (f.type === 'search') c.searchesSent++;
    else if (f.type === 'reply') c.repliesSent++;
    else if (f.type === 'notify') c.notifiesSent++;
    return true;
  }

  /** Sends to every peer but `except`; the peers it went to. */
  private sendToPeers(type: FrameType, id: string, requestId: string, hops: number, origin: string, payload: Buffer, except: string[] = [], ipv6 = false): string[] {
    const f = { type, hops, timestamp: this.now(), id, requestId, origin, payload, ...(ipv6 ? { ipv6 } : {}) };
    return [...this.peers.keys()].filter((peer) => !except.includes(peer) && this.sendFrame(peer, f));
  }

  /** An mDNS message from one of our LANs, to every peer. */
  private mdnsToPeers(payload: Buffer, ipv6: boolean, origin: string, response: boolean): void {
    const id = newMessageId();
    this.replay.check({ id, timestamp: this.now() }); // a copy coming back through a hub is then a duplicate
    for (const peer of this.sendToPeers('mdns', id, NO_REQUEST, 0, origin, payload, [], ipv6)) this.mdns?.sent(peer, response);
  }

  // ------------------------------------------------------------------ from peers

  private onRelayMessage(buf: Buffer, from: string): void {
    const c = this.peers.get(from);
    if (!c) {
      bump(this.drops, 'unknown-peer');
      this.emit('warning', 'unknown-peer', `dropped a relay datagram from ${from}: not a configured peer`);
      return;
    }
    let f: Frame;
    try {
      f = decodeFrame(buf, this.opts.key);
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      bump(c.drops, err.reason === 'auth' ? 'bad-auth' : err.reason);
      this.emit('warning', `frame-${from}-${err.reason}`, `dropped a relay datagram from ${from}: ${err.message}`);
      return;
    }
    // Before the replay guard: a reflected frame must not take the id of the real one.
    const ours = this.relayAddresses.get(from);
    if (f.sender !== from || f.recipient !== ours) {
      bump(c.drops, 'reflected');
      this.emit('warning', `reflected-${from}`, `dropped a relay frame from ${from} sent by ${f.sender} to ${f.recipient}, not by ${from} to us (${ours ?? 'no route'}): reflected or redirected`);
      // Our address may have changed under us (a new VPN address): look again, at most once a second.
      if (f.sender === from) this.relayAddresses.refreshSoon(this.opts.peers);
      return;
    }
    if (f.hops > MAX_HOPS) return bump(c.drops, 'hop-limit');
    const verdict = this.replay.check(f);
    if (verdict !== 'ok') {
      // A NOTIFY or mDNS message that reached us by two paths is normal with a hub; count it apart from replays.
      bump(c.drops, verdict === 'replay' && (f.type === 'notify' || f.type === 'mdns') ? 'duplicate' : verdict);
      return;
    }
    if (f.type === 'search') this.peerSearch(from, c, f);
    else if (f.type === 'reply') this.peerReply(from, c, f);
    else if (f.type === 'notify') this.peerNotify(from, c, f);
    else this.peerMdns(from, c, f);
  }

  private peerMdns(from: string, c: PeerCounters, f: Frame): void {
    if (!this.mdns) return bump(c.drops, 'mdns-off');
    const kind = this.mdns.fromPeer(from, f.payload, !!f.ipv6);
    // Only a hub passes peer traffic on, as for NOTIFYs.
    if (kind && this.opts.hub && f.hops < MAX_HOPS) {
      for (const peer of this.sendToPeers('mdns', f.id, f.requestId, f.hops + 1, f.origin, f.payload, [from, f.origin], f.ipv6)) this.mdns.sent(peer, kind === 'response');
    }
  }

  private payloadOf(f: Frame, c: PeerCounters, kind: SsdpMessage['kind']): SsdpMessage | undefined {
    try {
      const m = parseSsdp(f.payload);
      if (m.kind === kind) return m;
    } catch (err) {
      if (!(err instanceof SsdpParseError)) throw err;
    }
    bump(c.drops, 'bad-payload');
    return undefined;
  }

  private peerSearch(from: string, c: PeerCounters, f: Frame): void {
    const m = this.payloadOf(f, c, 'search');
    if (!m) return;
    c.searchesReceived++;
    if (!this.inbound(header(m, 'ST') ?? '')) return bump(c.drops, 'filtered');
    const mx = searchWaitSeconds(m);
    if (this.opts.hub && f.hops < MAX_HOPS) {
      if (this.hubRoutes.add({ id: f.id, clientAddress: from, clientPort: 0, st: '', mx, data: { peer: from } })) {
        this.sendToPeers('search', f.id, f.requestId, f.hops + 1, f.origin, f.payload, [from, f.origin]);
      } else bump(this.drops, 'pending-full');
    }
    const v6 = isIPv6Message(m);
    if (!this.lanSide.canMulticast(v6)) return;
    // A fresh socket per search: every unicast reply to it belongs to this search and no other.
    // Private: a port shared with another search's socket would hand it this one's replies.
    const socket = this.createSocket(v6 ? 'udp6' : 'udp4', false);
    const entry = this.remote.add({ id: f.id, clientAddress: from, clientPort: 0, st: header(m, 'ST') ?? '', mx, data: { socket, peer: from } });
    if (!entry) {
      socket.close();
      bump(this.drops, 'pending-full');
      this.emit('warning', 'remote-full', `searches in progress full (${this.remote.max}); a search from ${from} was not multicast`);
      return;
    }
    socket.on('error', (err) => this.emit('warning', 'search-socket', `search socket: ${err.message}`));
    socket.on('message', (reply, rinfo) => this.remoteReply(f.id, reply, rinfo));
    socket.bind({ port: 0, exclusive: true }, () => {
      if (this.closed || !this.remote.get(f.id)) return socket.close();
      this.ownPorts.add(socket.address().port);
      socket.setMulticastTTL(2);
      this.lanSide.multicast(socket, f.payload, (lan) => lan.counters.searchesMulticast++, v6);
    });
    this.emit('debug', `search ${f.id} from peer ${from} (origin ${f.origin}): ST ${entry.st}, MX ${mx}`);
  }

  private closeSearchSocket(s: dgram.Socket): void {
    quietly(() => this.ownPorts.delete(s.address().port)); // throws if never bound
    quietly(() => s.close());
  }

  private remoteReply(id: string, reply: Buffer, rinfo: dgram.RemoteInfo): void {
    const entry = this.remote.get(id);
    if (!entry) return; // past MX + 1 s: the origin would drop it anyway
    const lan = this.lanSide.lanOf(rinfo.address);
    try {
      if (parseSsdp(reply).kind !== 'response') throw new SsdpParseError('not a response');
    } catch {
      if (lan) lan.counters.malformed++;
      return;
    }
    if (lan) lan.counters.repliesRelayed++;
    this.sendFrame(entry.data.peer, { type: 'reply', hops: 0, timestamp: this.now(), id: newMessageId(), requestId: id, origin: this.lanSide.origin(lan), payload: reply });
  }

  private peerReply(from: string, c: PeerCounters, f: Frame): void {
    if (!this.payloadOf(f, c, 'response')) return;
    c.repliesReceived++;
    const route = this.opts.hub ? this.hubRoutes.get(f.requestId) : undefined;
    if (route && f.hops < MAX_HOPS) {
      this.sendFrame(route.data.peer, { ...f, hops: f.hops + 1 });
      return;
    }
    const p = this.pending.get(f.requestId);
    if (!p) return bump(c.drops, 'late-or-unknown-reply');
    const lan = this.lanSide.lanOf(p.clientAddress);
    const sent = this.lanSide.reply(lan, p.clientAddress, p.clientPort, f.payload, (err) => {
      if (err) this.emit('warning', 'reply-send', `sending a reply to ${p.clientAddress}:${p.clientPort}: ${err.message}`);
    });
    if (!sent) return bump(c.drops, 'client-lan-gone');
    if (lan) {
      lan.counters.repliesRouted++;
      this.replyDelay.observe(this.pending.age(p) / 1000);
    }
    this.emit('debug', `reply for ${f.requestId} from peer ${from} to ${p.clientAddress}:${p.clientPort}`);
  }

  private peerNotify(from: string, c: PeerCounters, f: Frame): void {
    const m = this.payloadOf(f, c, 'notify');
    if (!m) return;
    c.notifiesReceived++;
    if (!this.inbound(header(m, 'NT') ?? '')) return bump(c.drops, 'filtered');
    const v6 = isIPv6Message(m);
    const socket = v6 ? this.notifySocket6 : this.notifySocket;
    if (socket) this.lanSide.multicast(socket, f.payload, (lan) => lan.counters.notifiesMulticast++, v6);
    // Only a hub passes peer traffic on; a spoke never does, so a full mesh cannot loop.
    if (this.opts.hub && f.hops < MAX_HOPS) this.sendToPeers('notify', f.id, f.requestId, f.hops + 1, f.origin, f.payload, [from, f.origin]);
  }

  // ------------------------------------------------------------------ housekeeping

  private sweep(): void {
    this.pending.expire();
    this.hubRoutes.expire();
    this.remote.expire(); // closes their sockets
    this.lanSide.retry();
    this.mdns?.sweep();
  }

  /** Applies a reloaded configuration; pending searches stay. */
  async reconfigure(next: SsdpProxyOptions): Promise<void> {
    const families = (o: SsdpProxyOptions) => [...new Set(o.peers.map((p) => p.includes(':')))].sort().join();
    const relayChanged = next.port !== this.opts.port || families(next) !== families(this.opts);
    for (const p of [...this.peers.keys()]) if (!next.peers.includes(p)) this.peers.delete(p);
    for (const p of next.peers) if (!this.peers.has(p)) this.peers.set(p, newPeerCounters());
    this.lanSide.setNames(next.lans);
    if (next.lans.length && !this.lanSide.open) {
      this.emit('warning', 'reload-lans', 'LANs added to a daemon started without any take effect at the next start');
    }
    // A smaller bound refuses new searches until the tables drain; none in flight is cut short.
    for (const t of [this.pending, this.remote, this.hubRoutes]) t.max = next.maxPending;
    this.pending.maxPerSource = next.maxPendingPerHost ?? DEFAULT_MAX_PENDING_PER_HOST;
    this.opts = next;
    this.setFilters(next);
    this.watcher.setNames(next.lans);
    this.watcher.update();
    await this.reconfigureMdns(next);
    if (relayChanged) {
      this.closeRelay();
      await this.openRelay();
    }
    await this.refreshRelayAddresses();
  }

  /** mDNS turned on or off, or its options changed, by a reload. */
  private async reconfigureMdns(next: SsdpProxyOptions): Promise<void> {
    if (!next.mdns) {
      if (this.mdns) this.emit('info', 'mDNS relay off');
      this.mdns?.close();
      this.mdns = undefined;
      return;
    }
    if (this.mdns) return this.mdns.configure({ ...next.mdns, lans: next.lans, peers: next.peers });
    this.mdns = this.newMdns(next);
    if (!this.lanSide.open) return;
    await this.mdns.listen();
    for (const name of next.lans) {
      const info = this.watcher.get(name);
      if (info) this.mdns.up(info);
    }
  }

  status(): SsdpProxyStatus {
    return {
      startedAt: this.startedAt,
      now: this.now(),
      hub: this.opts.hub,
      port: this.opts.port,
      pendingSearches: this.pending.size,
      remoteSearches: this.remote.size,
      maxPending: this.opts.maxPending,
      maxPendingPerHost: this.pending.maxPerSource,
      lans: [...this.lanSide.lans.values()].map((l) => ({ name: l.name, present: !!l.info, addresses: [...l.joined], ipv6: l.joined6, ...l.counters })),
      peers: [...this.peers].map(([address, c]) => ({ address, ...c, drops: { ...c.drops } })),
      drops: { ...this.drops },
      ...(this.mdns ? { mdns: this.mdns.status() } : {}),
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watcher.close();
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.relayTimer) clearInterval(this.relayTimer);
    this.lanSide.close();
    this.mdns?.close();
    this.closeRelay();
    for (const s of [this.notifySocket, this.notifySocket6]) if (s) quietly(() => s.close());
    for (const e of this.remote.values()) this.closeSearchSocket(e.data.socket);
  }
}

export function createSsdpProxy(opts: SsdpProxyOptions, deps?: SsdpProxyDeps): SsdpProxy {
  return new SsdpProxy(opts, deps);
}
