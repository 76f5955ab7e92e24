// The LAN side of ssdp-proxy, for one multicast group (SSDP's, or mDNS's):
// group membership on each LAN interface, which LAN a source address belongs
// to, and sending to the group or to a client.
//
// The port is shared with other listeners on the router (UniFi's miniupnpd on
// 1900, an mDNS responder or reflector on 5353). With SO_REUSEADDR, Linux hands
// a unicast datagram to one socket only, the last one bound to the wildcard
// address; so we bind to the group address itself and receive multicast only,
// and a unicast datagram sent to the router still reaches the other process. A
// socket bound to a multicast address sends from a routed source address
// (Linux leaves its source unset), from the group's port.
//
// IPv4: one socket bound to the group (239.255.255.250:1900), joined on each LAN
// address; Node gives no ingress interface, so a source's LAN is the one whose
// subnet holds it. IPv6: one socket per LAN bound to [group%LAN]:port
// ([ff02::c%br0]:1900), so the LAN is the socket's.
import type dgram from 'node:dgram';
import { TypedEmitter } from 'tiny-typed-emitter';
import type { IfaceInfo } from '../lib/interfaces';
import { cidrContains, parseCidr, parseIPv4, parseIPv6, type Cidr } from '../lib/ip';
import { newLanCounters, type LanCounters } from './counters';

export const SSDP_GROUP = '239.255.255.250';
/** Link-local scope (UDA 2.0 s1.1.2); site-local and wider scopes do not leave a router anyway. */
export const SSDP_GROUP6 = 'ff02::c';
export const SSDP_PORT = 1900;

/** A multicast group a LanSide serves. */
export interface MulticastGroup<C> {
  /** "SSDP", "mDNS": in messages and warning keys. */
  label: string;
  group: string;
  group6: string;
  port: number;
  /** The hop limit of what is sent from the group sockets (mDNS: 255, RFC 6762 s11). */
  ttl?: number;
  newCounters: () => C;
}

export const SSDP: MulticastGroup<LanCounters> = { label: 'SSDP', group: SSDP_GROUP, group6: SSDP_GROUP6, port: SSDP_PORT, newCounters: newLanCounters };

export interface Lan<C = LanCounters> {
  name: string;
  info?: IfaceInfo;
  /** IPv4 addresses we joined the group on. */
  joined: Set<string>;
  nets: Cidr[];
  /** The LAN's IPv6 socket (bound to ff02::c on it) and the ifindex it is for. */
  socket6?: dgram.Socket;
  index6?: number;
  /** The IPv6 socket is bound and has joined ff02::c. */
  joined6: boolean;
  nets6: Cidr[];
  addrs6: Set<string>;
  counters: C;
}

export interface LanSideEvents<C> {
  /** A datagram to the group; lan is undefined when its source is in no LAN's subnet. */
  message: (msg: Buffer, rinfo: dgram.RemoteInfo, lan: Lan<C> | undefined) => void;
  info: (message: string) => void;
  warning: (key: string, message: string) => void;
}

/**
 * A new UDP socket. `shared`: it binds a group's port that other processes on the
 * router listen on too (SO_REUSEADDR and SO_REUSEPORT). Every other socket must be
 * private: Linux lets sockets with those options share a port, even one it picked
 * for a bind to port 0, and datagrams to that port then go to either of them.
 */
export type CreateSocket = (type: 'udp4' | 'udp6', shared: boolean) => dgram.Socket;
/** Binds a socket, rejecting with an error that says what it was for. */
export type BindSocket = (socket: dgram.Socket, address: string, port: number, what: string) => Promise<void>;

/** The address a LAN's group traffic goes out from: any one we joined on (the group is per link). */
const firstJoined = (lan: Lan<unknown>): string | undefined => lan.joined.values().next().value;
/** For closing and leaving: a socket closed already or an interface gone with its membership is fine. */
export const quietly = (f: () => void): void => {
  try {
    f();
  } catch {}
};

export class LanSide<C = LanCounters> extends TypedEmitter<LanSideEvents<C>> {
  readonly lans = new Map<string, Lan<C>>();
  private socket4?: dgram.Socket;
  private closed = false;

  constructor(
    names: readonly string[],
    private readonly createSocket: CreateSocket,
    private readonly bind: BindSocket,
    private readonly g: MulticastGroup<C> = SSDP as MulticastGroup<unknown> as MulticastGroup<C>,
  ) {
    super();
    for (const n of names) this.lans.set(n, this.newLan(n));
  }

  private newLan(name: string): Lan<C> {
    return { name, joined: new Set(), nets: [], joined6: false, nets6: [], addrs6: new Set(), counters: this.g.newCounters() };
  }

  /** Warning keys apart from the other group's, so rate-limiting one never hides the other. */
  private key(k: string): string {
    return `${this.g.label}-${k}`;
  }

  get open(): boolean {
    return this.socket4 !== undefined;
  }

  async listen(): Promise<void> {
    const s = this.createSocket('udp4', true);
    s.on('message', (msg, rinfo) => this.emit('message', msg, rinfo, this.lanOf(rinfo.address)));
    await this.bind(s, this.g.group, this.g.port, `${this.g.label} LAN`);
    if (this.g.ttl) s.setMulticastTTL(this.g.ttl);
    this.socket4 = s;
  }

  /** Adds and removes LANs by name; a removed one leaves its groups. */
  setNames(names: readonly string[]): void {
    for (const n of [...this.lans.keys()]) {
      if (!names.includes(n)) {
        this.down(n, false);
        this.lans.delete(n);
      }
    }
    for (const n of names) if (!this.lans.has(n)) this.lans.set(n, this.newLan(n));
  }

  /** The interface appeared or changed (or a retry): join where we have not. Idempotent. */
  up(info: IfaceInfo, prev?: IfaceInfo): void {
    const lan = this.lans.get(info.name);
    if (!lan || !this.socket4) return;
    const s = this.socket4;
    const v4 = info.addresses.filter((a) => a.family === 'IPv4');
    const recreated = prev !== undefined && prev.index !== info.index;
    for (const addr of [...lan.joined]) {
      if (recreated || !v4.some((a) => a.address === addr)) {
        quietly(() => s.dropMembership(this.g.group, addr));
        lan.joined.delete(addr);
      }
    }
    for (const a of v4) {
      if (lan.joined.has(a.address)) continue;
      try {
        s.addMembership(this.g.group, a.address);
        lan.joined.add(a.address);
        this.emit('info', `joined ${this.g.group} on ${info.name} (${a.address}/${a.prefixLength})`);
      } catch (err) {
        this.emit('warning', this.key(`join-${info.name}`), `cannot join ${this.g.group} on ${info.name} (${a.address}): ${(err as Error).message}; retrying`);
      }
    }
    const hadV4 = lan.info?.addresses.some((a) => a.family === 'IPv4') ?? true;
    if (!v4.length && hadV4) this.emit('warning', this.key(`noaddr-${info.name}`), `${info.name} has no IPv4 address (down?); waiting for one`);
    lan.info = info;
    lan.nets = v4.map((a) => parseCidr(`${a.address}/${a.prefixLength}`));
    this.up6(lan, info);
  }

  // IPv6 SSDP is a bonus: a LAN (or a kernel) without IPv6 must not stop IPv4.
  private up6(lan: Lan<C>, info: IfaceInfo): void {
    const v6 = info.addresses.filter((a) => a.family === 'IPv6');
    lan.addrs6 = new Set(v6.map((a) => a.address.split('%')[0]));
    lan.nets6 = v6.filter((a) => !a.address.toLowerCase().startsWith('fe80:')).map((a) => parseCidr(`${a.address.split('%')[0]}/${a.prefixLength}`));
    // An interface that is up has a link-local address; without one it cannot join.
    const want = v6.length ? info.index : undefined;
    if (lan.index6 === want && (lan.joined6 || lan.socket6)) return;
    this.close6(lan);
    if (want === undefined) return;
    const s = this.createSocket('udp6', true);
    lan.socket6 = s;
    lan.index6 = want;
    s.on('message', (msg, rinfo) => this.emit('message', msg, rinfo, lan));
    this.bind(s, `${this.g.group6}%${lan.name}`, this.g.port, `${this.g.label} LAN IPv6 ${lan.name}`).then(
      () => {
        if (lan.socket6 !== s || this.closed) return;
        s.addMembership(this.g.group6, `::%${lan.name}`);
        if (this.g.ttl) s.setMulticastTTL(this.g.ttl);
        lan.joined6 = true;
        this.emit('info', `joined ${this.g.group6} on ${lan.name}`);
      },
    ).catch((err: Error) => {
      if (lan.socket6 !== s) return;
      this.close6(lan);
      this.emit('warning', this.key(`join6-${lan.name}`), `no IPv6 ${this.g.label} on ${lan.name}: ${err.message}; retrying`);
    });
  }

  private close6(lan: Lan<C>): void {
    const s = lan.socket6;
    lan.socket6 = undefined;
    lan.index6 = undefined;
    lan.joined6 = false;
    if (s) quietly(() => s.close());
  }

  /** Joins what is still missing on the LANs that are present (a failed join, a lost IPv6 socket). */
  retry(): void {
    for (const lan of this.lans.values()) {
      if (!lan.info) continue;
      const v4 = lan.info.addresses.filter((a) => a.family === 'IPv4').length;
      const v6 = lan.info.addresses.some((a) => a.family === 'IPv6');
      if (lan.joined.size < v4 || (v6 && !lan.socket6)) this.up(lan.info);
    }
  }

  /** The interface vanished (or is no longer configured): leave its groups. */
  down(name: string, warn = true): void {
    const lan = this.lans.get(name);
    if (!lan) return;
    const s = this.socket4;
    if (s) for (const addr of lan.joined) quietly(() => s.dropMembership(this.g.group, addr));
    this.close6(lan);
    lan.nets6 = [];
    lan.addrs6.clear();
    lan.joined.clear();
    lan.nets = [];
    lan.info = undefined;
    if (warn) this.emit('warning', this.key(`gone-${name}`), `${name} is gone; waiting for it to come back`);
  }

  lanOf(address: string): Lan<C> | undefined {
    const v6 = address.includes(':');
    // Node names the ingress interface of a link-local source ("fe80::1%br0"): the LAN itself.
    const scope = v6 ? address.split('%')[1] : undefined;
    if (scope) return this.lans.get(scope);
    let bytes: Uint8Array;
    try {
      bytes = v6 ? parseIPv6(address) : parseIPv4(address);
    } catch {
      return undefined;
    }
    for (const lan of this.lans.values()) if ((v6 ? lan.nets6 : lan.nets).some((n) => cidrContains(n, bytes))) return lan;
    return undefined;
  }

  isOwnAddress(address: string): boolean {
    const bare = address.split('%')[0];
    for (const lan of this.lans.values()) if (lan.joined.has(bare) || lan.addrs6.has(bare)) return true;
    return false;
  }

  /** Some LAN can carry a message of this family. */
  canMulticast(v6: boolean): boolean {
    for (const lan of this.lans.values()) if (v6 ? lan.joined6 : lan.joined.size) return true;
    return false;
  }

  /** The IPv4 address a frame from this LAN names as its origin. */
  origin(lan?: Lan<C>): string {
    return (lan && firstJoined(lan)) ?? '0.0.0.0';
  }

  /**
   * Sends one datagram to the group on every LAN that has joined it, from
   * `socket`, or (without one) from the group sockets themselves: from the
   * group's port, as mDNS wants of every packet it takes as a full query or
   * response (RFC 6762 s6, s5.1).
   */
  multicast(socket: dgram.Socket | undefined, payload: Buffer, count: (lan: Lan<C>) => void, v6 = false): void {
    for (const lan of this.lans.values()) {
      const via = v6 ? (lan.joined6 ? `::%${lan.name}` : undefined) : firstJoined(lan);
      const from = socket ?? (v6 ? lan.socket6 : this.socket4);
      if (via === undefined || !from) continue;
      try {
        from.setMulticastInterface(via);
        from.send(payload, this.g.port, v6 ? this.g.group6 : this.g.group);
        count(lan);
      } catch (err) {
        this.emit('warning', this.key(`send-${lan.name}`), `sending on ${lan.name}: ${(err as Error).message}`);
      }
    }
  }

  /**
   * Sends a reply to a client from port 1900, as a device would; `lan` is the
   * client's (lanOf). False: no socket to send it from.
   */
  reply(lan: Lan<C> | undefined, address: string, port: number, payload: Buffer, cb: (err: Error | null) => void): boolean {
    const socket = address.includes(':') ? lan?.socket6 : this.socket4;
    if (!socket) return false;
    socket.send(payload, port, address, cb);
    return true;
  }

  close(): void {
    this.closed = true;
    for (const lan of this.lans.values()) this.close6(lan);
    if (this.socket4) quietly(() => this.socket4!.close());
  }
}
