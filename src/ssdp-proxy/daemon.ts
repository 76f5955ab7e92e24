// The ssdp-proxy daemon. LAN side: one socket on port 1900 (shared with any
// other SSDP listener through SO_REUSEADDR) that has joined 239.255.255.250 on
// every LAN interface. Relay side: one socket on the relay port that talks to
// the configured peers only.
//
//   LAN M-SEARCH  -> pending (client addr, port, ST, MX) under a request id -> search frame to peers
//   search frame  -> multicast on our LANs from a fresh socket; each unicast reply -> reply frame back
//   reply frame   -> to the client's own address and port, while MX + 1 s has not passed
//   LAN NOTIFY    -> notify frame to peers -> multicast on their LANs
//   hub           -> forwards searches, replies and notifies between spokes (hop limit, id cache)
//   IPv6          -> the same on ff02::c; the HOST header says which group a relayed message is for
import dgram from 'node:dgram';
import { TypedEmitter } from 'tiny-typed-emitter';
import { createInterfaceWatcher, type IfaceInfo, type InterfaceWatcher, type InterfaceWatcherOptions } from '../lib/interfaces';
import { cidrContains, parseCidr, parseIPv4, parseIPv6, type Cidr } from '../lib/ip';
import type { SsdpProxyConfig } from './config';
import { compileFilter, type Filter } from './filter';
import { decodeFrame, encodeFrame, FrameError, MessageIdCache, newMessageId, ReplayGuard, type Frame, type FrameType } from './frame';
import { header, parseSsdp, searchWaitSeconds, SsdpParseError, type SsdpMessage } from './message';
import { PendingSearchTable } from './pending';

export const SSDP_GROUP = '239.255.255.250';
/** Link-local scope (UDA 2.0 s1.1.2); site-local and wider scopes do not leave a router anyway. */
export const SSDP_GROUP6 = 'ff02::c';
export const SSDP_PORT = 1900;
/** A frame passes at most this many proxies after the one it entered at (spoke -> hub -> spoke). */
export const MAX_HOPS = 2;
export const REPLAY_WINDOW_MS = 30_000;

export type SsdpProxyOptions = Pick<SsdpProxyConfig, 'lans' | 'peers' | 'key' | 'hub' | 'port' | 'maxPending'> & Partial<Pick<SsdpProxyConfig, 'filters'>>;

export interface SsdpProxyDeps {
  now?: () => number;
  createSocket?: (type: 'udp4' | 'udp6') => dgram.Socket;
  readInterfaces?: InterfaceWatcherOptions['read'];
  watchIntervalMs?: number;
  sweepIntervalMs?: number;
}

export interface SsdpProxyEvents {
  info: (message: string) => void;
  debug: (message: string) => void;
  warning: (key: string, message: string) => void;
}

export interface LanCounters {
  searches: number;
  notifies: number;
  repliesRouted: number;
  searchesMulticast: number;
  notifiesMulticast: number;
  repliesRelayed: number;
  malformed: number;
  /** Searches and NOTIFYs an ST/NT filter kept from crossing. */
  filtered: number;
}

export interface PeerCounters {
  searchesSent: number;
  searchesReceived: number;
  repliesSent: number;
  repliesReceived: number;
  notifiesSent: number;
  notifiesReceived: number;
  drops: Record<string, number>;
}

export interface SsdpProxyStatus {
  startedAt: number;
  now: number;
  hub: boolean;
  port: number;
  pendingSearches: number;
  remoteSearches: number;
  maxPending: number;
  lans: ({ name: string; present: boolean; addresses: string[]; ipv6: boolean } & LanCounters)[];
  peers: ({ address: string } & PeerCounters)[];
  /** Drops not charged to a configured peer or LAN. */
  drops: Record<string, number>;
}

interface Lan {
  name: string;
  info?: IfaceInfo;
  /** IPv4 addresses we joined the group on. */
  joined: Set<string>;
  nets: Cidr[];
  /** ifindex we joined ff02::c on (undefined: not joined). */
  joined6?: number;
  nets6: Cidr[];
  addrs6: Set<string>;
  counters: LanCounters;
}

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

const newLanCounters = (): LanCounters => ({
  searches: 0,
  notifies: 0,
  repliesRouted: 0,
  searchesMulticast: 0,
  notifiesMulticast: 0,
  repliesRelayed: 0,
  malformed: 0,
  filtered: 0,
});
const newPeerCounters = (): PeerCounters => ({
  searchesSent: 0,
  searchesReceived: 0,
  repliesSent: 0,
  repliesReceived: 0,
  notifiesSent: 0,
  notifiesReceived: 0,
  drops: {},
});

const newLan = (name: string): Lan => ({ name, joined: new Set(), nets: [], nets6: [], addrs6: new Set(), counters: newLanCounters() });

const bump = (drops: Record<string, number>, reason: string) => void (drops[reason] = (drops[reason] ?? 0) + 1);

// The relay carries both families; which group a message is for is in its HOST
// header ("[FF02::C]:1900" or "239.255.255.250:1900").
function isIPv6Message(m: SsdpMessage): boolean {
  return (header(m, 'HOST') ?? '').includes('[');
}

export class SsdpProxy extends TypedEmitter<SsdpProxyEvents> {
  private opts: SsdpProxyOptions;
  private readonly now: () => number;
  private readonly createSocket: (type: 'udp4' | 'udp6') => dgram.Socket;
  private readonly startedAt: number;
  private lans = new Map<string, Lan>();
  private peers = new Map<string, PeerCounters>();
  private drops: Record<string, number> = {};
  private lanSocket?: dgram.Socket;
  private relaySocket?: dgram.Socket;
  /** Sends NOTIFYs on our LANs; its port marks them as ours when they loop back. */
  private notifySocket?: dgram.Socket;
  private lanSocket6?: dgram.Socket;
  private notifySocket6?: dgram.Socket;
  /** Local ports of our sending sockets: a datagram from one of them on a LAN is our own. */
  private ownPorts = new Set<number>();
  private readonly pending: PendingSearchTable;
  private readonly remote: PendingSearchTable<RemoteSearch>;
  private readonly hubRoutes: PendingSearchTable<HubRoute>;
  private readonly replay: ReplayGuard;
  private readonly watcher: InterfaceWatcher;
  private sweepTimer?: NodeJS.Timeout;
  private readonly sweepIntervalMs: number;
  private closed = false;
  private outbound: Filter = () => true;
  private inbound: Filter = () => true;

  constructor(opts: SsdpProxyOptions, deps: SsdpProxyDeps = {}) {
    super();
    this.opts = opts;
    this.setFilters(opts);
    this.now = deps.now ?? Date.now;
    this.createSocket =
      deps.createSocket ?? ((type) => dgram.createSocket({ type, reuseAddr: true, ipv6Only: type === 'udp6', lookup: literalLookup }));
    this.startedAt = this.now();
    this.sweepIntervalMs = deps.sweepIntervalMs ?? 1000;
    this.pending = new PendingSearchTable({ max: opts.maxPending, now: this.now });
    this.remote = new PendingSearchTable({ max: opts.maxPending, now: this.now });
    this.hubRoutes = new PendingSearchTable({ max: opts.maxPending, now: this.now });
    this.replay = new ReplayGuard(REPLAY_WINDOW_MS, 65536, this.now);
    for (const p of opts.peers) this.peers.set(p, newPeerCounters());
    for (const n of opts.lans) this.lans.set(n, newLan(n));
    this.watcher = createInterfaceWatcher({ names: opts.lans, intervalMs: deps.watchIntervalMs ?? 5000, read: deps.readInterfaces });
    this.watcher.on('appeared', (info) => this.lanUp(info));
    this.watcher.on('changed', (info, prev) => this.lanUp(info, prev));
    this.watcher.on('vanished', (name) => this.lanGone(name));
    this.watcher.on('warning', (err) => this.emit('warning', 'interfaces', `reading interfaces: ${err.message}`));
  }

  private setFilters(o: SsdpProxyOptions): void {
    this.outbound = compileFilter(o.filters?.outbound);
    this.inbound = compileFilter(o.filters?.inbound);
  }

  private async bind(socket: dgram.Socket, port: number, what: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ port, exclusive: false }, () => {
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
        this.lanSocket = this.createSocket('udp4');
        this.lanSocket.on('message', (msg, rinfo) => this.onLanMessage(msg, rinfo));
        await this.bind(this.lanSocket, SSDP_PORT, 'LAN');
        this.notifySocket = this.createSocket('udp4');
        await this.bind(this.notifySocket, 0, 'notify');
        this.ownPorts.add(this.notifySocket.address().port);
        this.notifySocket.setMulticastTTL(2);
        this.emit('info', `listening for SSDP on port ${SSDP_PORT} of ${this.opts.lans.join(', ')}`);
      }
      await this.openRelay();
      if (this.opts.lans.length) await this.openLan6();
    } catch (err) {
      this.close();
      throw err;
    }
    this.watcher.start();
    this.sweepTimer = setInterval(() => this.sweep(), this.sweepIntervalMs);
    this.sweepTimer.unref();
  }

  // IPv6 SSDP is a bonus: a kernel without IPv6 must not stop the IPv4 relay.
  private async openLan6(): Promise<void> {
    const lan6 = this.createSocket('udp6');
    const notify6 = this.createSocket('udp6');
    try {
      lan6.on('message', (msg, rinfo) => this.onLanMessage(msg, rinfo));
      await this.bind(lan6, SSDP_PORT, 'LAN IPv6');
      await this.bind(notify6, 0, 'notify IPv6');
    } catch (err) {
      lan6.close();
      notify6.close();
      this.emit('warning', 'ipv6', `no IPv6 SSDP: ${(err as Error).message}`);
      return;
    }
    this.ownPorts.add(notify6.address().port);
    notify6.setMulticastTTL(2);
    this.lanSocket6 = lan6;
    this.notifySocket6 = notify6;
  }

  private async openRelay(): Promise<void> {
    const s = this.createSocket('udp4');
    s.on('message', (msg, rinfo) => this.onRelayMessage(msg, rinfo.address));
    this.relaySocket = s;
    await this.bind(s, this.opts.port, 'relay');
    this.emit('info', `relay on UDP port ${this.opts.port}${this.opts.hub ? ' (hub)' : ''}; peers ${this.opts.peers.join(', ')}`);
  }

  // ------------------------------------------------------------------ LAN interfaces

  private lanUp(info: IfaceInfo, prev?: IfaceInfo): void {
    const lan = this.lans.get(info.name);
    if (!lan || !this.lanSocket) return;
    const v4 = info.addresses.filter((a) => a.family === 'IPv4');
    const recreated = prev !== undefined && prev.index !== info.index;
    for (const addr of [...lan.joined]) {
      if (recreated || !v4.some((a) => a.address === addr)) {
        try {
          this.lanSocket.dropMembership(SSDP_GROUP, addr);
        } catch {} // the interface went away with the membership
        lan.joined.delete(addr);
      }
    }
    for (const a of v4) {
      if (lan.joined.has(a.address)) continue;
      try {
        this.lanSocket.addMembership(SSDP_GROUP, a.address);
        lan.joined.add(a.address);
        this.emit('info', `joined ${SSDP_GROUP} on ${info.name} (${a.address}/${a.prefixLength})`);
      } catch (err) {
        this.emit('warning', `join-${info.name}`, `cannot join ${SSDP_GROUP} on ${info.name} (${a.address}): ${(err as Error).message}; retrying`);
      }
    }
    this.lanUp6(lan, info);
    lan.info = info;
    lan.nets = v4.map((a) => parseCidr(`${a.address}/${a.prefixLength}`));
    if (!v4.length) this.emit('warning', `noaddr-${info.name}`, `${info.name} has no IPv4 address (down?); waiting for one`);
  }

  private lanUp6(lan: Lan, info: IfaceInfo): void {
    const v6 = info.addresses.filter((a) => a.family === 'IPv6');
    lan.addrs6 = new Set(v6.map((a) => a.address.split('%')[0]));
    lan.nets6 = v6.filter((a) => !a.address.toLowerCase().startsWith('fe80:')).map((a) => parseCidr(`${a.address.split('%')[0]}/${a.prefixLength}`));
    if (!this.lanSocket6) return;
    // An interface that is up has a link-local address; without one it cannot join.
    const want = v6.length ? info.index : undefined;
    if (lan.joined6 === want) return;
    if (lan.joined6 !== undefined) {
      try {
        this.lanSocket6.dropMembership(SSDP_GROUP6, `::%${info.name}`);
      } catch {}
      lan.joined6 = undefined;
    }
    if (want === undefined) return;
    try {
      this.lanSocket6.addMembership(SSDP_GROUP6, `::%${info.name}`);
      lan.joined6 = want;
      this.emit('info', `joined ${SSDP_GROUP6} on ${info.name}`);
    } catch (err) {
      this.emit('warning', `join6-${info.name}`, `cannot join ${SSDP_GROUP6} on ${info.name}: ${(err as Error).message}; retrying`);
    }
  }

  private lanGone(name: string): void {
    const lan = this.lans.get(name);
    if (!lan) return;
    for (const addr of lan.joined) {
      try {
        this.lanSocket?.dropMembership(SSDP_GROUP, addr);
      } catch {}
    }
    if (lan.joined6 !== undefined) {
      try {
        this.lanSocket6?.dropMembership(SSDP_GROUP6, `::%${name}`);
      } catch {}
    }
    lan.joined6 = undefined;
    lan.nets6 = [];
    lan.addrs6.clear();
    lan.joined.clear();
    lan.nets = [];
    lan.info = undefined;
    this.emit('warning', `gone-${name}`, `${name} is gone; waiting for it to come back`);
  }

  private lanOf(address: string): Lan | undefined {
    let bytes: Uint8Array;
    const v6 = address.includes(':');
    // Node names the ingress interface of a link-local source ("fe80::1%br0"): the LAN itself.
    const scope = v6 ? address.split('%')[1] : undefined;
    if (scope) return this.lans.get(scope);
    try {
      bytes = v6 ? parseIPv6(address) : parseIPv4(address);
    } catch {
      return undefined;
    }
    for (const lan of this.lans.values()) if ((v6 ? lan.nets6 : lan.nets).some((n) => cidrContains(n, bytes))) return lan;
    return undefined;
  }

  private isOwnAddress(address: string): boolean {
    const bare = address.split('%')[0];
    for (const lan of this.lans.values()) if (lan.joined.has(bare) || lan.addrs6.has(bare)) return true;
    return false;
  }

  /** Sends one datagram to the SSDP group on every LAN that has an address. */
  private multicast(socket: dgram.Socket, payload: Buffer, count: (lan: Lan) => void, v6 = false): void {
    for (const lan of this.lans.values()) {
      if (v6) {
        if (lan.joined6 === undefined) continue;
        try {
          socket.setMulticastInterface(`::%${lan.name}`);
          socket.send(payload, SSDP_PORT, SSDP_GROUP6);
          count(lan);
        } catch (err) {
          this.emit('warning', `send-${lan.name}`, `sending on ${lan.name}: ${(err as Error).message}`);
        }
        continue;
      }
      for (const addr of lan.joined) {
        try {
          socket.setMulticastInterface(addr);
          socket.send(payload, SSDP_PORT, SSDP_GROUP);
          count(lan);
        } catch (err) {
          this.emit('warning', `send-${lan.name}`, `sending on ${lan.name}: ${(err as Error).message}`);
        }
        break; // one address per interface is enough: the group is per link
      }
    }
  }

  // ------------------------------------------------------------------ from the LAN

  private onLanMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    // What we multicast ourselves comes back through loopback: never relay it again.
    if (this.ownPorts.has(rinfo.port) && this.isOwnAddress(rinfo.address)) return;
    const lan = this.lanOf(rinfo.address);
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
      bump(this.drops, 'pending-full');
      this.emit('warning', 'pending-full', `pending searches full (${this.opts.maxPending}); a search from ${rinfo.address} was not relayed`);
      return;
    }
    lan.counters.searches++;
    this.emit('debug', `search ${id} from ${rinfo.address}:${rinfo.port} on ${lan.name}: ST ${st}, MX ${mx}`);
    this.sendToPeers('search', id, id, 0, this.localOrigin(lan), msg);
  }

  private lanNotify(lan: Lan, m: SsdpMessage, msg: Buffer): void {
    if (!this.outbound(header(m, 'NT') ?? '')) return void lan.counters.filtered++;
    lan.counters.notifies++;
    const id = newMessageId();
    this.replay.check({ id, timestamp: this.now() }); // a copy coming back through a hub is then a duplicate
    this.emit('debug', `notify ${id} on ${lan.name}: ${header(m, 'NTS') ?? ''} ${header(m, 'NT') ?? ''}`);
    this.sendToPeers('notify', id, '0000000000000000', 0, this.localOrigin(lan), msg);
  }

  private localOrigin(lan?: Lan): string {
    const a = lan ? [...lan.joined][0] : undefined;
    return a ?? '0.0.0.0';
  }

  private sendFrame(peer: string, f: Frame): void {
    const c = this.peers.get(peer);
    if (!this.relaySocket || !c) return;
    this.relaySocket.send(encodeFrame(f, this.opts.key), this.opts.port, peer, (err) => {
      if (err) this.emit('warning', `peer-${peer}`, `sending to peer ${peer}: ${err.message}`);
    });
    if (f.type === 'search') c.searchesSent++;
    else if (f.type === 'reply') c.repliesSent++;
    else c.notifiesSent++;
  }

  private sendToPeers(type: FrameType, id: string, requestId: string, hops: number, origin: string, payload: Buffer, except: string[] = []): void {
    const f: Frame = { type, hops, timestamp: this.now(), id, requestId, origin, payload };
    for (const peer of this.peers.keys()) if (!except.includes(peer)) this.sendFrame(peer, f);
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
    if (f.hops > MAX_HOPS) return bump(c.drops, 'hop-limit');
    const verdict = this.replay.check(f);
    if (verdict !== 'ok') {
      // A NOTIFY that reached us by two paths is normal in a mesh; count it apart from replays.
      bump(c.drops, verdict === 'replay' && f.type === 'notify' ? 'duplicate' : verdict);
      return;
    }
    if (f.type === 'search') this.peerSearch(from, c, f);
    else if (f.type === 'reply') this.peerReply(from, c, f);
    else this.peerNotify(from, c, f);
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
    if (!(v6 ? this.lanSocket6 : this.lanSocket) || ![...this.lans.values()].some((l) => (v6 ? l.joined6 !== undefined : l.joined.size))) return;
    // A fresh socket per search: every unicast reply to it belongs to this search and no other.
    const socket = this.createSocket(v6 ? 'udp6' : 'udp4');
    const entry = this.remote.add({ id: f.id, clientAddress: from, clientPort: 0, st: header(m, 'ST') ?? '', mx, data: { socket, peer: from } });
    if (!entry) {
      socket.close();
      bump(this.drops, 'pending-full');
      this.emit('warning', 'remote-full', `searches in progress full (${this.opts.maxPending}); a search from ${from} was not multicast`);
      return;
    }
    socket.on('error', (err) => this.emit('warning', 'search-socket', `search socket: ${err.message}`));
    socket.on('message', (reply, rinfo) => this.remoteReply(f.id, reply, rinfo));
    socket.bind({ port: 0, exclusive: true }, () => {
      if (this.closed || !this.remote.get(f.id)) return socket.close();
      this.ownPorts.add(socket.address().port);
      socket.setMulticastTTL(2);
      this.multicast(socket, f.payload, (lan) => lan.counters.searchesMulticast++, v6);
    });
    this.emit('debug', `search ${f.id} from peer ${from} (origin ${f.origin}): ST ${entry.st}, MX ${mx}`);
  }

  private remoteReply(id: string, reply: Buffer, rinfo: dgram.RemoteInfo): void {
    const entry = this.remote.get(id);
    if (!entry) return; // past MX + 1 s: the origin would drop it anyway
    const lan = this.lanOf(rinfo.address);
    try {
      if (parseSsdp(reply).kind !== 'response') throw new SsdpParseError('not a response');
    } catch {
      if (lan) lan.counters.malformed++;
      return;
    }
    if (lan) lan.counters.repliesRelayed++;
    this.sendFrame(entry.data.peer, { type: 'reply', hops: 0, timestamp: this.now(), id: newMessageId(), requestId: id, origin: this.localOrigin(lan), payload: reply });
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
    const lan = this.lanOf(p.clientAddress);
    const socket = p.clientAddress.includes(':') ? this.lanSocket6 : this.lanSocket;
    socket?.send(f.payload, p.clientPort, p.clientAddress, (err) => {
      if (err) this.emit('warning', 'reply-send', `sending a reply to ${p.clientAddress}:${p.clientPort}: ${err.message}`);
    });
    if (lan) lan.counters.repliesRouted++;
    this.emit('debug', `reply for ${f.requestId} from peer ${from} to ${p.clientAddress}:${p.clientPort}`);
  }

  private peerNotify(from: string, c: PeerCounters, f: Frame): void {
    const m = this.payloadOf(f, c, 'notify');
    if (!m) return;
    c.notifiesReceived++;
    if (!this.inbound(header(m, 'NT') ?? '')) return bump(c.drops, 'filtered');
    const v6 = isIPv6Message(m);
    const socket = v6 ? this.notifySocket6 : this.notifySocket;
    if (socket) this.multicast(socket, f.payload, (lan) => lan.counters.notifiesMulticast++, v6);
    // Only a hub passes peer traffic on; a spoke never does, so a full mesh cannot loop.
    if (this.opts.hub && f.hops < MAX_HOPS) this.sendToPeers('notify', f.id, f.requestId, f.hops + 1, f.origin, f.payload, [from, f.origin]);
  }

  // ------------------------------------------------------------------ housekeeping

  private sweep(): void {
    this.pending.expire();
    this.hubRoutes.expire();
    for (const e of this.remote.expire()) {
      const s = e.data.socket;
      try {
        this.ownPorts.delete(s.address().port);
      } catch {}
      s.close();
    }
  }

  /** Applies a reloaded configuration; pending searches stay. */
  async reconfigure(next: SsdpProxyOptions): Promise<void> {
    const portChanged = next.port !== this.opts.port;
    for (const p of [...this.peers.keys()]) if (!next.peers.includes(p)) this.peers.delete(p);
    for (const p of next.peers) if (!this.peers.has(p)) this.peers.set(p, newPeerCounters());
    for (const n of [...this.lans.keys()]) {
      if (!next.lans.includes(n)) {
        this.lanGone(n);
        this.lans.delete(n);
      }
    }
    for (const n of next.lans) if (!this.lans.has(n)) this.lans.set(n, newLan(n));
    if (next.lans.length && !this.lanSocket) {
      this.emit('warning', 'reload-lans', 'LANs added to a daemon started without any take effect at the next start');
    }
    this.opts = { ...next, maxPending: this.opts.maxPending };
    this.setFilters(next);
    this.watcher.setNames(next.lans);
    this.watcher.update();
    if (portChanged) {
      this.relaySocket?.close();
      await this.openRelay();
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
      lans: [...this.lans.values()].map((l) => ({ name: l.name, present: !!l.info, addresses: [...l.joined], ipv6: l.joined6 !== undefined, ...l.counters })),
      peers: [...this.peers].map(([address, c]) => ({ address, ...c, drops: { ...c.drops } })),
      drops: { ...this.drops },
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watcher.close();
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    for (const s of [this.lanSocket, this.relaySocket, this.notifySocket, this.lanSocket6, this.notifySocket6]) {
      try {
        s?.close();
      } catch {}
    }
    for (const e of this.remote.values()) {
      try {
        e.data.socket.close();
      } catch {}
    }
  }
}

export function createSsdpProxy(opts: SsdpProxyOptions, deps?: SsdpProxyDeps): SsdpProxy {
  return new SsdpProxy(opts, deps);
}
