// mDNS across sites (issue 14), over ssdp-proxy's relay link. The daemon owns
// the link (peers, key, replay, hub); this owns the LAN side of mDNS and what
// crosses it:
//
//   LAN packet  -> ours (digest ring)? ignore. From port 5353, within the LAN's rate,
//                  a valid message (dns.ts) -> learn names (mdns-names.ts) -> not a
//                  conflict reply -> filter (mdns-filter.ts) -> one frame to each peer
//   peer frame  -> within the peer's rate, a valid message -> filter, withholding our
//                  own names -> multicast on every LAN from the group socket: source port
//                  5353 and the router's LAN address, hop limit 255 (RFC 6762 s6, s11)
//
// Queries go out without the QU bit, so the answers are multicast where we hear
// them and come back the same way to the asking site's LAN, where every host
// learns them. Nothing is ever sent between our own LANs (a reflector's job) nor
// from one peer to another (the daemon's hub does that, as for SSDP).
import type dgram from 'node:dgram';
import { TypedEmitter } from 'tiny-typed-emitter';
import type { IfaceInfo } from '../lib/interfaces';
import type { DaemonLogEvents } from '../lib/log';
import type { MdnsConfig } from './config';
import { bump, newMdnsLanCounters, newMdnsPeerCounters, type MdnsLanCounters, type MdnsPeerCounters, type MdnsStatus } from './counters';
import { decodeDns, DnsError, encodeDns, isResponse, type DnsMessage, type Name } from './dns';
import { LanSide, type BindSocket, type CreateSocket, type Lan, type MulticastGroup } from './lans';
import { filterForRelay, parseServiceType, type MdnsDrop } from './mdns-filter';
import { MdnsNames } from './mdns-names';
import { TokenBucket } from './rate-limit';
import { RecentDigests } from './recent-digests';

export const MDNS_GROUP = '224.0.0.251';
export const MDNS_GROUP6 = 'ff02::fb';
export const MDNS_PORT = 5353;
const MDNS: MulticastGroup<MdnsLanCounters> = { label: 'mDNS', group: MDNS_GROUP, group6: MDNS_GROUP6, port: MDNS_PORT, ttl: 255, newCounters: newMdnsLanCounters };
/** Names learned from the LANs (in use at home, hosts of relayed services), each table. */
const MAX_NAMES = 4096;

export interface MdnsRelayOptions extends MdnsConfig {
  lans: readonly string[];
  peers: readonly string[];
}

export interface MdnsRelayDeps {
  createSocket: CreateSocket;
  bind: BindSocket;
  /** A monotonic clock: every table and rate here is a timeout. */
  now: () => number;
  /** Sends a message from one of our LANs to every peer. */
  toPeers: (payload: Buffer, ipv6: boolean, origin: string, response: boolean) => void;
}

export type MdnsRelayEvents = DaemonLogEvents;

export class MdnsRelay extends TypedEmitter<MdnsRelayEvents> {
  readonly lanSide: LanSide<MdnsLanCounters>;
  private readonly names: MdnsNames;
  private readonly recent: RecentDigests;
  private services: Name[] = [];
  private opts: MdnsRelayOptions;
  private peers = new Map<string, { counters: MdnsPeerCounters; limit: TokenBucket }>();
  private lanLimits = new Map<string, TokenBucket>();
  private drops: Record<string, number> = {};
  private listening = false;

  constructor(
    opts: MdnsRelayOptions,
    private readonly deps: MdnsRelayDeps,
  ) {
    super();
    this.opts = opts;
    this.names = new MdnsNames(MAX_NAMES, deps.now);
    this.recent = new RecentDigests(64, 2000, deps.now);
    this.lanSide = new LanSide(opts.lans, deps.createSocket, deps.bind, MDNS);
    this.lanSide.on('message', (msg, rinfo, lan) => this.fromLan(msg, rinfo, lan));
    this.lanSide.on('info', (m) => this.emit('info', m));
    this.lanSide.on('warning', (k, m) => this.emit('warning', k, m));
    this.configure(opts);
  }

  /** Applies options (at start and on reload); counters stay. */
  configure(opts: MdnsRelayOptions): void {
    this.opts = opts;
    this.services = opts.services.map(parseServiceType);
    this.lanSide.setNames(opts.lans);
    for (const p of [...this.peers.keys()]) if (!opts.peers.includes(p)) this.peers.delete(p);
    for (const p of opts.peers) if (!this.peers.has(p)) this.peers.set(p, { counters: newMdnsPeerCounters(), limit: this.bucket() });
    for (const p of this.peers.values()) (p.limit.rate = opts.rate), (p.limit.burst = 2 * opts.rate);
    for (const l of this.lanLimits.values()) (l.rate = opts.rate), (l.burst = 2 * opts.rate);
  }

  private bucket(): TokenBucket {
    return new TokenBucket(this.opts.rate, 2 * this.opts.rate, this.deps.now);
  }

  /**
   * Binds the LAN socket, sharing port 5353 with any responder on the router.
   * mDNS is an addition: if it cannot bind now, SSDP goes on and we try again.
   */
  async listen(): Promise<boolean> {
    if (this.listening || !this.opts.lans.length) return this.listening;
    try {
      await this.lanSide.listen();
      this.listening = true;
      this.emit('info', `relaying mDNS on port ${MDNS_PORT} of ${this.opts.lans.join(', ')}${this.services.length ? ` (only ${this.opts.services.join(', ')})` : ''}`);
    } catch (err) {
      this.emit('warning', 'mdns-listen', `no mDNS relay yet: ${(err as Error).message}; retrying`);
    }
    return this.listening;
  }

  up(info: IfaceInfo, prev?: IfaceInfo): void {
    this.lanSide.up(info, prev);
  }

  down(name: string): void {
    this.lanSide.down(name, false);
  }

  /** Housekeeping: expire the tables, join what is missing, bind if we could not. */
  sweep(): void {
    this.names.expire();
    this.lanSide.retry();
  }

  // ------------------------------------------------------------------ from our LANs

  private fromLan(msg: Buffer, rinfo: dgram.RemoteInfo, lan: Lan<MdnsLanCounters> | undefined): void {
    // Our own multicast, back through loopback or a reflector on the router: from one of our
    // addresses (and queries are often byte for byte the same from any host: the address tells).
    if (this.lanSide.isOwnAddress(rinfo.address) && this.recent.has(msg)) return;
    if (!lan) return bump(this.drops, 'not-from-a-lan');
    // Only port 5353 speaks full mDNS: a one-shot query from another port wants unicast
    // answers we cannot bring it, and a response from another port must be ignored (RFC 6762 s5.1, s6).
    if (rinfo.port !== MDNS_PORT) return bump(lan.counters.drops, 'not-port-5353');
    let limit = this.lanLimits.get(lan.name);
    if (!limit) this.lanLimits.set(lan.name, (limit = this.bucket()));
    if (!limit.take()) return bump(lan.counters.drops, 'rate-limit');
    const m = this.decode(msg, lan.counters.drops);
    if (!m) return;
    this.names.learnFromLan(m, rinfo.address);
    if (this.names.isConflictReply(m, rinfo.address)) return bump(lan.counters.drops, 'conflict-reply');
    const out = this.judge(m, msg, lan.counters.drops, false);
    if (!out) return;
    const response = isResponse(m);
    if (response) lan.counters.responses++;
    else lan.counters.queries++;
    this.deps.toPeers(out, rinfo.family === 'IPv6', this.lanSide.origin(lan), response);
  }

  private decode(msg: Buffer, drops: Record<string, number>, reason = 'malformed'): DnsMessage | undefined {
    try {
      return decodeDns(msg);
    } catch (err) {
      if (!(err instanceof DnsError)) throw err;
      bump(drops, reason);
      this.emit('debug', `mDNS: ${reason}: ${err.message}`);
      return undefined;
    }
  }

  /** Filters a message for the other side; the bytes to send, or undefined when nothing crosses. */
  private judge(m: DnsMessage, original: Buffer, drops: Record<string, number>, fromPeer: boolean): Buffer | undefined {
    this.names.learnTargets(m, this.services);
    const v = filterForRelay(m, { services: this.services, hosts: this.names.hosts, localNames: fromPeer ? this.names.local : undefined });
    if (!v.relay) return void bump(drops, v.reason);
    for (const [why, n] of Object.entries(v.removed) as [MdnsDrop, number][]) drops[`${why}-records`] = (drops[`${why}-records`] ?? 0) + n;
    if (!v.changed) return original;
    try {
      return encodeDns(v.message);
    } catch (err) {
      if (!(err instanceof DnsError)) throw err;
      return void bump(drops, 'malformed');
    }
  }

  // ------------------------------------------------------------------ from peers

  /**
   * A peer's mDNS frame (authenticated, fresh, for us), multicast on our LANs as
   * far as the filter lets it. Its kind when it was a message worth passing on (a hub does).
   */
  fromPeer(peer: string, payload: Buffer, ipv6: boolean): 'query' | 'response' | undefined {
    const p = this.peers.get(peer);
    if (!p) return undefined;
    if (!p.limit.take()) return void bump(p.counters.drops, 'rate-limit');
    const m = this.decode(payload, p.counters.drops, 'bad-payload');
    if (!m) return undefined;
    const response = isResponse(m);
    if (response) p.counters.responsesReceived++;
    else p.counters.queriesReceived++;
    const out = this.judge(m, payload, p.counters.drops, true);
    if (out && this.listening) {
      this.recent.add(out);
      this.lanSide.multicast(undefined, out, (lan) => (response ? lan.counters.responsesMulticast++ : lan.counters.queriesMulticast++), ipv6);
    }
    return response ? 'response' : 'query';
  }

  /** Counts what the daemon sent to a peer. */
  sent(peer: string, response: boolean): void {
    const c = this.peers.get(peer)?.counters;
    if (c && response) c.responsesSent++;
    else if (c) c.queriesSent++;
  }

  status(): MdnsStatus {
    return {
      services: [...this.opts.services],
      rate: this.opts.rate,
      listening: this.listening,
      localNames: this.names.local.size,
      hosts: this.names.hosts.size,
      lans: [...this.lanSide.lans.values()].map((l) => ({ name: l.name, ...l.counters, drops: { ...l.counters.drops } })),
      peers: [...this.peers].map(([address, p]) => ({ address, ...p.counters, drops: { ...p.counters.drops } })),
      drops: { ...this.drops },
    };
  }

  close(): void {
    this.lanSide.close();
    this.listening = false;
  }
}
