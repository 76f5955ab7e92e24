// The udp-tunnel daemon: a data socket shared by every tunnel (demuxed by the
// peer's address, as in the original, or keyed by the peer's site), a control
// socket taking the original's JSON messages (signed when they come from off
// localhost), and one tun device per tunnel. Undecodable or forged input is
// counted and dropped, never fatal.
//
// A remote may be a DNS name: resolved at add, again on its TTL (30 s..1 h), when
// the tunnel falls silent and on SIGHUP; a failed lookup keeps the last address.
// A keyed tunnel's endpoint then follows its peer: the source of the newest
// datagram that authenticates and passes the replay window (roaming).
import dgram from 'node:dgram';
import { TypedEmitter } from 'tiny-typed-emitter';
import { ConfigError } from '../lib/config';
import { monotonicMs, wallTimeOf, type Clock } from '../lib/clock';
import type { DaemonLogEvents } from '../lib/log';
import { noteReceived } from '../lib/memory';
import { describeOffload, type DataPathStatus } from '../lib/offload';
import { formatAddress, isMappedWords, sockAddr, type SockAddr } from '../lib/sockaddr';
import { newSite, Opener, Sealer } from './aead';
import { DataPath, type DataPathCounters, type DataTunnel } from './datapath';
import { AuthError, isSigned, NonceCache, signMessage, verifyMessage } from './control-auth';
import { linuxDevices, type DeviceOps } from './device';
import type { TunnelKeys } from './keys';
import { hasRoute, preferredAddress, resolveName, RETRY_MS, type Resolution } from './resolve';
import { decodeControlBody, isHostName, sameSpec, type ControlRequest, type TunnelSpec } from './tunnel-spec';

export const MAX_TUNNELS = 128; // keeps a `list` reply inside one datagram
const SILENT_AFTER_KEEPALIVES = 3;
/** How long `add` waits for a name's first answer before it makes the tunnel without it. */
const ADD_RESOLVE_WAIT_MS = 2000;
/** A silent tunnel to a name asks DNS again at most this often. */
const SILENT_RESOLVE_MS = 5000;
const MAX_REPLY_BYTES = 60_000; // a UDP datagram carries 65507, less the signature

export interface UdpTunnelOptions {
  dataPort: number;
  controlPort: number;
  controlAddress: string;
  keys?: TunnelKeys;
  /** 0: no keepalives. */
  keepaliveMs: number;
  /** Batching and the kernel offloads (false: --no-offload). */
  offload?: boolean;
  /** Where the data socket binds (every address, both families, by default). */
  dataAddress?: string;
  /** This daemon's site (aead.ts): kept in the state file; random when not given. */
  site?: number;
}

export interface UdpTunnelDeps {
  /** Wall clock: control message timestamps (the sender's wall time) and the status. */
  now?: Clock;
  /** Monotonic: silence and stale-session timeouts; default: now if given, else performance.now. */
  tick?: Clock;
  /** The control socket (tests inject one). */
  createSocket?: () => dgram.Socket;
  devices?: DeviceOps;
  /** Restored at start. */
  initialTunnels?: TunnelSpec[];
  /** Called with the whole table (and the peers' sites as learned, by tunnel) after every change. */
  saveTunnels?: (tunnels: TunnelSpec[], peers: Record<string, number>) => void;
  /** The peers' sites from the state file, by tunnel name. */
  initialPeerSites?: Record<string, number>;
  /** A name's addresses (tests inject answers); default: DNS, then /etc/hosts. */
  resolve?: (name: string) => Promise<Resolution>;
  /** Whether this host has a route to an address (the IPv6-or-IPv4 rule). */
  routable?: (address: string) => Promise<boolean>;
  /** How long `add` waits for a name's first answer (ADD_RESOLVE_WAIT_MS). */
  addResolveWaitMs?: number;
}

export type UdpTunnelEvents = DaemonLogEvents;

export interface TunnelDrops {
  /** Keyed: failed authentication. */
  forged: number;
  /** Keyed: counter seen before, too old, or an older session. */
  replayed: number;
  /** Not an IP packet / not our framing. */
  malformed: number;
  /** The tun queue was full. */
  tunFull: number;
  /** The UDP send failed. */
  sendFailed: number;
  /** Larger than the tunnel's MTU (and its overhead): dropped unread. */
  oversized: number;
}

/** How the endpoint was set: the literal address, a DNS answer, or an authentic datagram from it. */
export type EndpointSource = 'configured' | 'resolved' | 'learned';

export interface TunnelStatus extends TunnelSpec {
  /** The remote's addresses: the literal, or the name's last answer (IPv6 first). */
  addresses: string[];
  /** When the name last resolved (wall ms); null: a literal, or never. */
  resolvedAt: number | null;
  /** The last lookup failed: why (the last addresses are kept). */
  resolveError?: string;
  /** Where datagrams go ("192.0.2.2:5000", "[2001:db8::2]:5000"); null: nowhere yet. */
  endpoint: string | null;
  endpointSource: EndpointSource;
  /** When a datagram last moved the endpoint (wall ms); null: never. */
  movedAt: number | null;
  moves: number;
  /** The peer's site, as learned from its datagrams (keyed; hex); null: not yet. */
  peerSite: string | null;
  addedAt: number;
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
  /** Last datagram (data or keepalive) that passed our checks; null: never. */
  lastRx: number | null;
  silent: boolean;
  drops: TunnelDrops;
}

export interface UdpTunnelStatus {
  startedAt: number;
  now: number;
  dataPort: number;
  control: string;
  keyed: boolean;
  keepaliveMs: number;
  /** Data datagrams from an address with no tunnel. */
  unknownSource: number;
  controlAccepted: number;
  /** Refused: bad MAC, replayed, expired, unsigned from off localhost. */
  controlRefused: number;
  /** Authentic (or local) but invalid: bad JSON or fields. */
  controlInvalid: number;
  /** Batching and offloads in use, and why not. */
  dataPath: DataPathStatus;
  /** Who seals and opens (keyed): OpenSSL EVP in place, or node:crypto. */
  aead?: string;
  offloads: DataPathCounters;
  /** This daemon's site (hex), which keyed peers learn. */
  site?: string;
  /** What an owner should fix (doctor shows them): a keyless tunnel to a name, a name that does not resolve. */
  warnings: string[];
  tunnels: TunnelStatus[];
}

export type ControlReply = { ok: true; message?: string; status?: UdpTunnelStatus } | { ok: false; error: string };

// addedAt and lastRx are monotonic ticks: "silent" and the stale-session rule are
// timeouts, which a step of the wall clock must not fire or freeze.
interface Tunnel extends DataTunnel {
  spec: TunnelSpec;
  addedAt: number;
  drops: TunnelDrops;
  addresses: string[];
  /** The addresses as the index holds them. */
  known: SockAddr[];
  resolvedAt: number | null;
  /** Monotonic: when we last asked DNS (the silent rule's rate bound). */
  askedAt: number;
  resolveError?: string;
  /** The name's first lookup has not answered yet. */
  pending?: boolean;
  resolveTimer?: NodeJS.Timeout;
  endpointSource: EndpointSource;
  movedAt: number | null;
  moves: number;
}

// The index key of an address: an IPv4 address (mapped or not) is its 32-bit
// number; an IPv6 one a hash above 2^32, checked against the tunnel on a hit.
function addressKey(a: SockAddr): number {
  if (isMappedWords(a.w0, a.w1, a.w2) || a.family === 4) return a.w3;
  return 2 ** 32 + ((Math.imul(a.w0 ^ a.w2, 0x9e3779b1) ^ Math.imul(a.w1 ^ a.w3, 0x85ebca6b)) >>> 0);
}

function sameAddress(a: SockAddr, b: SockAddr): boolean {
  return a.w3 === b.w3 && a.w2 === b.w2 && a.w1 === b.w1 && a.w0 === b.w0;
}

/** "192.0.2.2:5000", "[2001:db8::2]:5000"; IPv4-mapped addresses shown as IPv4. */
export function formatEndpoint(a: SockAddr): string {
  const v4 = a.family === 4 || isMappedWords(a.w0, a.w1, a.w2);
  const text = formatAddress({ ...a, family: v4 ? 4 : 6 });
  return v4 ? `${text}:${a.port}` : `[${text}]:${a.port}`;
}

const NO_ENDPOINT = (): SockAddr => ({ family: 4, w0: 0, w1: 0, w2: 0, w3: 0, port: 0, scopeId: 0 });

function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.');
}

export class UdpTunnel extends TypedEmitter<UdpTunnelEvents> {
  private readonly now: Clock;
  private readonly tick: Clock;
  private readonly devices: DeviceOps;
  private readonly createSocket: () => dgram.Socket;
  private readonly save: (tunnels: TunnelSpec[], peers: Record<string, number>) => void;
  private readonly tunnels = new Map<string, Tunnel>(); // by name
  private readonly byRemote = new Map<string, Tunnel>();
  private readonly byAddress = new Map<number, Tunnel>();
  private readonly bySite = new Map<number, Tunnel>();
  private readonly byTag = new Map<number, Tunnel>();
  private readonly site: number;
  private readonly resolve: (name: string) => Promise<Resolution>;
  private readonly routable: (address: string) => Promise<boolean>;
  private nextTag = 0;
  // From the state file but not restored (say the name is taken): kept in the
  // file until deleted or replaced, so one bad start does not forget them.
  private readonly unrestored = new Map<string, TunnelSpec>();
  private readonly nonces = new NonceCache();
  private readonly sealer?: Sealer;
  private readonly data: DataPath;
  private control?: dgram.Socket;
  private keepaliveTimer?: NodeJS.Timeout;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly startedAt: number;
  private closed = false;
  private counters = { unknownSource: 0, controlAccepted: 0, controlRefused: 0, controlInvalid: 0 };

  constructor(
    private readonly opts: UdpTunnelOptions,
    private readonly deps: UdpTunnelDeps = {},
  ) {
    super();
    this.now = deps.now ?? Date.now;
    this.tick = deps.tick ?? deps.now ?? monotonicMs;
    this.devices = deps.devices ?? linuxDevices;
    this.createSocket = deps.createSocket ?? (() => dgram.createSocket({ type: opts.controlAddress.includes(':') ? 'udp6' : 'udp4', lookup: literalLookup }));
    this.save = deps.saveTunnels ?? (() => {});
    this.resolve = deps.resolve ?? ((name) => resolveName(name));
    this.routable = deps.routable ?? hasRoute;
    this.startedAt = this.now();
    this.site = opts.site ?? newSite();
    if (opts.keys) this.sealer = new Sealer(opts.keys.data, this.startedAt, this.site);
    this.data = new DataPath(
      { port: opts.dataPort, address: opts.dataAddress ?? '::', offload: opts.offload !== false, sealer: this.sealer },
      {
        devices: this.devices,
        tick: this.tick,
        tunnelFrom: (from) => {
          const t = this.byAddress.get(addressKey(from));
          if (t === undefined || from.family === 4 || isMappedWords(from.w0, from.w1, from.w2)) return t;
          return t.known.some((k) => sameAddress(k, from)) ? t : undefined;
        },
        tunnelBySite: (site) => this.bySite.get(site),
        moved: (t, from) => this.moved(t as Tunnel, from),
        learnedSite: (t, site) => this.learnedSite(t as Tunnel, site),
        tunnelByTag: (tag) => this.byTag.get(tag),
        warning: (key, msg) => this.emit('warning', key, msg),
        unknownSource: () => {
          this.counters.unknownSource++;
        },
      },
    );
  }

  async start(): Promise<void> {
    try {
      this.data.start();
    } catch (err) {
      throw new Error(`cannot listen for data on UDP port ${this.opts.dataPort}: ${(err as Error).message}`);
    }
    this.control = this.createSocket();
    this.control.on('message', (msg, rinfo) => {
      noteReceived(msg.length);
      // One at a time: adds and dels run `ip` and must not interleave.
      this.queue = this.queue
        .then(() => this.onControl(msg, rinfo.address, rinfo.port))
        .catch((err) => this.emit('warning', 'control', `control message from ${rinfo.address}: ${(err as Error).message}`));
    });
    this.control.on('error', (err) => this.emit('warning', 'control-socket', `control socket: ${err.message}`));
    await bind(this.control, this.opts.controlPort, this.opts.controlAddress).catch((err) => {
      throw new Error(`cannot listen for control on ${this.opts.controlAddress}:${this.opts.controlPort}: ${err.message}`);
    });
    for (const spec of this.deps.initialTunnels ?? []) {
      try {
        await this.add(spec, false);
        this.emit('info', `restored tunnel ${spec.name} to ${spec.remoteServer}`);
      } catch (err) {
        if (!this.tunnels.has(spec.name)) this.unrestored.set(spec.name, spec);
        this.emit('warning', `restore-${spec.name}`, `cannot restore tunnel ${spec.name}: ${(err as Error).message}`);
      }
    }
    if (this.opts.keepaliveMs > 0) {
      this.keepaliveTimer = setInterval(() => this.sendKeepalives(), this.opts.keepaliveMs);
      this.keepaliveTimer.unref?.();
    }
    this.emit('info', `listening: data ${this.opts.dataAddress ?? '[::]'}:${this.opts.dataPort}, control ${this.opts.controlAddress}:${this.opts.controlPort}${this.sealer ? `, key set (ChaCha20-Poly1305, ${this.sealer.engine.name})` : ', no key'}`);
    this.emit('info', `data path: ${describeDataPath(this.data.state)}`);
  }

  /** Applies one control message; the reply to send back. Exposed for tests. */
  async handleControl(text: string, from: string): Promise<{ reply: ControlReply; signed: boolean }> {
    let body = text;
    let signed = false;
    if (isSigned(text)) {
      if (!this.opts.keys) {
        this.counters.controlRefused++;
        return { reply: { ok: false, error: 'signed message but this daemon has no key (--key-file)' }, signed };
      }
      try {
        const now = this.now();
        const v = verifyMessage(this.opts.keys.control, text, now);
        this.nonces.use(v.nonce, v.ts, now);
        body = v.body;
        signed = true;
      } catch (err) {
        this.counters.controlRefused++;
        this.emit('warning', 'control-refused', `control message from ${from} refused: ${(err as Error).message}`);
        return { reply: { ok: false, error: err instanceof AuthError ? `refused: ${err.message}` : 'refused' }, signed };
      }
    } else if (!isLoopback(from)) {
      this.counters.controlRefused++;
      this.emit('warning', 'control-refused', `unsigned control message from ${from} refused`);
      return { reply: { ok: false, error: 'refused: a control message from off localhost must be signed (ctl --key-file)' }, signed };
    }
    let req: ControlRequest;
    try {
      req = decodeControlBody(body);
    } catch (err) {
      this.counters.controlInvalid++;
      return { reply: { ok: false, error: err instanceof ConfigError ? err.message : 'invalid message' }, signed };
    }
    this.counters.controlAccepted++;
    try {
      return { reply: await this.apply(req), signed };
    } catch (err) {
      return { reply: { ok: false, error: (err as Error).message }, signed };
    }
  }

  private async onControl(msg: Buffer, address: string, port: number): Promise<void> {
    if (this.closed) return;
    const { reply, signed } = await this.handleControl(msg.toString('utf8'), address);
    let text = JSON.stringify(reply);
    if (text.length > MAX_REPLY_BYTES) {
      text = JSON.stringify({ ok: false, error: `the reply (${text.length} bytes) does not fit a datagram; run 'udp-tunnel status' on the host` });
    }
    const out = signed && this.opts.keys ? signMessage(this.opts.keys.control, text, this.now()) : text;
    this.control?.send(out, port, address, (err) => {
      if (err) this.emit('warning', 'control-reply', `cannot reply to ${address}:${port}: ${err.message}`);
    });
  }

  private async apply(req: ControlRequest): Promise<ControlReply> {
    if (req.op === 'list') return { ok: true, status: this.status() };
    const done: string[] = [];
    if (req.op === 'add') {
      for (const spec of req.tunnels) {
        const existing = this.tunnels.get(spec.name);
        if (existing && sameSpec(existing.spec, spec)) {
          done.push(`${spec.name} exists`);
          continue;
        }
        const t = await this.add(spec, true);
        const unresolved = t.resolveError
          ? ` (${t.resolveError}; trying again every ${RETRY_MS / 1000} s)`
          : t.pending
            ? ` (looking up ${spec.remoteServer}: no answer yet)`
            : '';
        done.push(`${spec.name} added${unresolved}`);
        const to = isHostName(spec.remoteServer) && t.addresses.length ? `${spec.remoteServer} (${t.addresses.join(', ')})` : spec.remoteServer;
        this.emit('info', `tunnel ${spec.name} added: ${spec.tunnelIP}/${spec.netmask}${spec.tunnelIP6 ? ` ${spec.tunnelIP6}` : ''} mtu ${spec.mtu} to ${to}${spec.routes.length ? `, routes ${spec.routes.join(' ')}` : ''}${unresolved}`);
      }
    } else {
      for (const name of req.names) {
        if (!this.tunnels.has(name) && this.unrestored.delete(name)) {
          this.persist();
          done.push(`${name} deleted (it was not running)`);
          continue;
        }
        if (!this.tunnels.has(name)) throw new Error(`no tunnel ${name}`);
        await this.remove(name);
        done.push(`${name} deleted`);
        this.emit('info', `tunnel ${name} deleted`);
      }
    }
    return { ok: true, message: done.join(', ') };
  }

  private async add(spec: TunnelSpec, persist: boolean): Promise<Tunnel> {
    if (this.tunnels.has(spec.name)) throw new Error(`tunnel ${spec.name} exists with other settings; delete it first`);
    const other = this.byRemote.get(spec.remoteServer);
    if (other) throw new Error(`tunnel ${other.spec.name} already goes to ${spec.remoteServer} (one tunnel per remote)`);
    if (this.tunnels.size >= MAX_TUNNELS) throw new Error(`at most ${MAX_TUNNELS} tunnels`);
    // A name is asked before the device exists: the answer (or why not) goes in the reply.
    const named = isHostName(spec.remoteServer);
    // A slow DNS server must not hold the control queue (nor ctl, which waits 3 s): after
    // ADD_RESOLVE_WAIT_MS the tunnel is made without an address and takes the answer later.
    let lookup: Promise<{ r?: Resolution; e?: string }> | undefined;
    let answer: { r?: Resolution; e?: string } | undefined;
    if (named) {
      lookup = this.resolve(spec.remoteServer).then(
        (r) => ({ r }),
        (err) => ({ e: (err as Error).message }),
      );
      let timer: NodeJS.Timeout | undefined;
      answer = await Promise.race([lookup, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), this.deps.addResolveWaitMs ?? ADD_RESOLVE_WAIT_MS)))]);
      clearTimeout(timer);
      if (this.tunnels.has(spec.name)) throw new Error(`tunnel ${spec.name} exists with other settings; delete it first`);
      if (this.byRemote.has(spec.remoteServer)) throw new Error(`tunnel ${this.byRemote.get(spec.remoteServer)!.spec.name} already goes to ${spec.remoteServer} (one tunnel per remote)`);
    }
    const dev = this.devices.open(spec.name, this.opts.offload !== false);
    this.data.deviceOpened(dev.refused);
    const t: Tunnel = {
      spec,
      fd: dev.fd,
      vnet: dev.vnet,
      tag: this.nextTag++,
      site: 0,
      remote: NO_ENDPOINT(),
      addresses: [],
      known: [],
      resolvedAt: null,
      askedAt: this.tick(),
      endpointSource: named ? 'resolved' : 'configured',
      movedAt: null,
      moves: 0,
      gsoTooBig: 0,
      watch: { close() {} },
      opener: this.opts.keys ? new Opener(this.opts.keys.data) : undefined,
      addedAt: this.tick(),
      rxPackets: 0,
      rxBytes: 0,
      txPackets: 0,
      txBytes: 0,
      lastRx: null,
      drops: { forged: 0, replayed: 0, malformed: 0, oversized: 0, tunFull: 0, sendFailed: 0 },
    };
    try {
      await this.devices.configure(spec);
    } catch (err) {
      this.devices.close(dev.fd);
      t.opener?.free();
      throw err;
    }
    t.watch = this.data.watchTunnel(t, () => this.tunnels.get(spec.name) === t);
    const known = persist ? undefined : this.deps.initialPeerSites?.[spec.name];
    if (this.opts.keys && known !== undefined && !this.bySite.has(known)) {
      t.site = known;
      this.bySite.set(known, t);
    }
    this.tunnels.set(spec.name, t);
    this.byRemote.set(spec.remoteServer, t);
    this.byTag.set(t.tag, t);
    if (!named) await this.setAddresses(t, [spec.remoteServer]);
    else if (answer?.r) await this.resolved(t, answer.r);
    else if (answer?.e !== undefined) this.resolveFailed(t, answer.e);
    else {
      t.pending = true;
      void lookup!.then(async (a) => {
        t.pending = false;
        if (a.r) await this.resolved(t, a.r);
        else this.resolveFailed(t, a.e!);
      });
    }
    this.unrestored.delete(spec.name);
    if (persist) this.persist();
    return t;
  }

  private forget(t: Tunnel): void {
    this.tunnels.delete(t.spec.name);
    this.byRemote.delete(t.spec.remoteServer);
    this.unindex(t);
    if (t.site !== 0 && this.bySite.get(t.site) === t) this.bySite.delete(t.site);
    this.byTag.delete(t.tag);
    if (t.resolveTimer) clearTimeout(t.resolveTimer);
    t.watch.close();
    t.opener?.free();
  }

  private unindex(t: Tunnel): void {
    for (const k of t.known) if (this.byAddress.get(addressKey(k)) === t) this.byAddress.delete(addressKey(k));
    t.known = [];
  }

  /**
   * The remote's addresses (the literal, or a name's answer): indexed for the
   * data path, and the endpoint set from the preferred one when `move` says so.
   */
  private async setAddresses(t: Tunnel, addresses: string[], move = true): Promise<void> {
    const v6 = addresses.find((a) => a.includes(':'));
    const preferred = preferredAddress(addresses, v6 !== undefined && (addresses.length === 1 || (await this.routable(v6))));
    if (!this.alive(t)) return;
    this.unindex(t);
    t.addresses = addresses;
    for (const a of addresses) {
      const k = sockAddr(a, 0);
      const clash = this.byAddress.get(addressKey(k));
      if (clash && clash !== t) this.emit('warning', `clash-${t.spec.name}`, `tunnel ${t.spec.name}: ${a} is also tunnel ${clash.spec.name}'s remote; datagrams from it go to ${clash.spec.name}${t.opener ? ' until its site is learned' : ''}`);
      else this.byAddress.set(addressKey(k), t);
      t.known.push(k);
    }
    if (!move || preferred === undefined) return;
    const next = this.data.socketAddress(sockAddr(preferred, this.opts.dataPort));
    if (t.remote.port !== 0 && sameAddress(next, t.remote) && next.port === t.remote.port) return;
    const was = t.remote.port ? formatEndpoint(t.remote) : undefined;
    t.remote = next;
    t.endpointSource = isHostName(t.spec.remoteServer) ? 'resolved' : 'configured';
    if (was) this.emit('info', `tunnel ${t.spec.name}: endpoint ${was} -> ${formatEndpoint(next)} (${t.spec.remoteServer} resolved to ${preferred})`);
  }

  private alive(t: Tunnel): boolean {
    return !this.closed && this.tunnels.get(t.spec.name) === t;
  }

  private async resolved(t: Tunnel, r: Resolution): Promise<void> {
    if (!this.alive(t)) return;
    const before = t.addresses;
    const changed = before.join() !== r.addresses.join();
    // A keyed endpoint learned from the peer's own datagrams is newer than any DNS
    // answer that did not change (a TTL can lag a move by up to an hour). It moves
    // when the name's answer changed, or when the tunnel has gone silent.
    const move = !t.opener || t.endpointSource !== 'learned' || changed || this.isSilent(t, this.tick());
    if (t.resolveError) this.emit('info', `tunnel ${t.spec.name}: ${t.spec.remoteServer} resolves again (${r.addresses.join(', ')})`);
    t.resolveError = undefined;
    t.resolvedAt = this.now();
    await this.setAddresses(t, r.addresses, move);
    this.schedule(t, r.ttlMs);
  }

  private resolveFailed(t: Tunnel, why: string): void {
    if (!this.alive(t)) return;
    // Said once, not on every retry; the last addresses stay in use.
    if (t.resolveError === undefined) {
      const keep = t.addresses.length ? `keeping ${t.addresses.join(', ')}` : 'no address yet: the tunnel sends nothing';
      this.emit('warning', `resolve-${t.spec.name}`, `tunnel ${t.spec.name}: cannot resolve ${t.spec.remoteServer} (${why}); ${keep}; trying again every ${RETRY_MS / 1000} s`);
    }
    t.resolveError = why;
    this.schedule(t, RETRY_MS);
  }

  private schedule(t: Tunnel, ms: number): void {
    if (t.resolveTimer) clearTimeout(t.resolveTimer);
    t.resolveTimer = setTimeout(() => void this.resolveNow(t), ms);
    t.resolveTimer.unref?.();
  }

  /** Asks DNS for t's name now (no-op for a literal). */
  private async resolveNow(t: Tunnel): Promise<void> {
    if (!isHostName(t.spec.remoteServer) || !this.alive(t)) return;
    t.askedAt = this.tick();
    let r: Resolution;
    try {
      r = await this.resolve(t.spec.remoteServer);
    } catch (err) {
      return this.resolveFailed(t, (err as Error).message);
    }
    await this.resolved(t, r);
  }

  /** SIGHUP: every name asked again now. */
  async resolveAll(): Promise<void> {
    await Promise.all([...this.tunnels.values()].map((t) => this.resolveNow(t)));
  }

  private isSilent(t: Tunnel, tick: number): boolean {
    const ka = this.opts.keepaliveMs;
    return ka > 0 && tick - (t.lastRx ?? t.addedAt) > SILENT_AFTER_KEEPALIVES * ka;
  }

  /** The newest authentic datagram of a keyed tunnel came from elsewhere: the endpoint follows it. */
  private moved(t: Tunnel, from: SockAddr): void {
    const was = t.remote.port ? formatEndpoint(t.remote) : 'none';
    t.remote = this.data.socketAddress({ ...from });
    t.endpointSource = 'learned';
    t.movedAt = this.tick();
    t.moves++;
    this.emit('info', `tunnel ${t.spec.name}: peer moved ${was} -> ${formatEndpoint(t.remote)} (its newest authentic datagram came from there)`);
  }

  private learnedSite(t: Tunnel, site: number): void {
    if (t.site !== 0 && this.bySite.get(t.site) === t) this.bySite.delete(t.site);
    const other = this.bySite.get(site);
    if (other && other !== t) {
      this.emit('warning', `site-${t.spec.name}`, `tunnel ${t.spec.name}: its peer's site ${hex(site)} is also tunnel ${other.spec.name}'s peer; the two tunnels lead to one daemon`);
      return;
    }
    t.site = site;
    this.bySite.set(site, t);
    this.persist(); // once per peer (and per restart of an earlier version's peer)
  }

  private async remove(name: string): Promise<void> {
    const t = this.tunnels.get(name)!;
    this.forget(t);
    await this.devices.removeRoutes(t.spec);
    this.devices.close(t.fd);
    this.persist();
  }

  private persist(): void {
    try {
      const peers: Record<string, number> = {};
      for (const t of this.tunnels.values()) if (t.site !== 0) peers[t.spec.name] = t.site;
      this.save([...[...this.tunnels.values()].map((t) => t.spec), ...this.unrestored.values()], peers);
    } catch (err) {
      this.emit('warning', 'state', `cannot save the state file: ${(err as Error).message}`);
    }
  }

  /** One data datagram from the underlay, as if received alone. Exposed for tests. */
  onData(msg: Uint8Array, from: string, port = this.opts.dataPort): void {
    this.data.receive(msg, sockAddr(from.startsWith('::ffff:') ? from.slice(7) : from, port));
  }

  /** Exposed for tests (the timer calls it). Also asks DNS again for a silent tunnel's name. */
  sendKeepalives(): void {
    const tick = this.tick();
    for (const t of this.tunnels.values()) {
      if (t.remote.port !== 0) this.data.keepalive(t);
      if (isHostName(t.spec.remoteServer) && this.isSilent(t, tick) && tick - t.askedAt >= Math.max(SILENT_RESOLVE_MS, this.opts.keepaliveMs)) void this.resolveNow(t);
    }
    this.data.flush();
  }

  /** Each tunnel's remote addresses (names as last resolved), once: the peers the firewall lets in. */
  remotes(): string[] {
    return [...new Set([...this.tunnels.values()].flatMap((t) => t.addresses))];
  }

  /** Keyed tunnels may be reached from anywhere (roaming; the tag decides), keyless only from their remotes. */
  get roaming(): boolean {
    return this.sealer !== undefined;
  }

  status(): UdpTunnelStatus {
    const now = this.now();
    const tick = this.tick();
    const wall = (t: number) => wallTimeOf(t, () => now, () => tick);
    const ka = this.opts.keepaliveMs;
    return {
      startedAt: this.startedAt,
      now,
      dataPort: this.opts.dataPort,
      control: `${this.opts.controlAddress}:${this.opts.controlPort}`,
      keyed: !!this.opts.keys,
      keepaliveMs: ka,
      ...this.counters,
      dataPath: this.data.state,
      aead: this.sealer?.engine.name,
      offloads: { ...this.data.counters },
      site: this.sealer ? hex(this.site) : undefined,
      warnings: this.warnings(),
      tunnels: [...this.tunnels.values()].map((t) => ({
        ...t.spec,
        addresses: t.addresses,
        resolvedAt: t.resolvedAt,
        ...(t.resolveError ? { resolveError: t.resolveError } : {}),
        endpoint: t.remote.port ? formatEndpoint(t.remote) : null,
        endpointSource: t.endpointSource,
        movedAt: t.movedAt === null ? null : wall(t.movedAt),
        moves: t.moves,
        peerSite: t.site ? hex(t.site) : null,
        addedAt: wall(t.addedAt),
        rxPackets: t.rxPackets,
        rxBytes: t.rxBytes,
        txPackets: t.txPackets,
        txBytes: t.txBytes,
        lastRx: t.lastRx === null ? null : wall(t.lastRx),
        silent: this.isSilent(t, tick),
        drops: { ...t.drops },
      })),
    };
  }

  private warnings(): string[] {
    const out: string[] = [];
    for (const t of this.tunnels.values()) {
      if (!this.sealer && isHostName(t.spec.remoteServer)) {
        out.push(`tunnel ${t.spec.name} goes to the name ${t.spec.remoteServer} without a key: it follows the name only when DNS says so, never the peer's own datagrams (give both daemons --key-file to let it roam)`);
      }
      if (t.resolveError) out.push(`tunnel ${t.spec.name}: ${t.spec.remoteServer} does not resolve (${t.resolveError})${t.addresses.length ? `; still using ${t.addresses.join(', ')}` : ''}`);
    }
    return out;
  }

  /** After a burst (lib/memory.ts): the data path's slots back to the kernel. */
  releaseBuffers(): void {
    if (!this.closed) this.data.discard();
  }

  /** Closes sockets and devices (the kernel removes the devices and their routes). Safe twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.keepaliveTimer) clearInterval(this.keepaliveTimer);
    for (const t of [...this.tunnels.values()]) {
      if (t.resolveTimer) clearTimeout(t.resolveTimer);
      this.forget(t);
      this.devices.close(t.fd);
    }
    this.data.close();
    this.sealer?.free();
    this.control?.close();
  }
}

/** The data path in words, for the log and the status. */
export function describeDataPath(p: DataPathStatus): string {
  return [
    describeOffload(p.batching, 'batched (recvmmsg/sendmmsg)', 'one datagram per system call'),
    describeOffload(p['udp-gso'], 'UDP GSO', 'no UDP GSO'),
    describeOffload(p['tun-offload'], 'tun TSO and GRO', 'plain tun packets'),
  ].join(', ');
}

// Every address we send to is a literal; skip dns.lookup's extra tick.
function literalLookup(address: string, family: unknown, callback: (err: Error | null, address: string, family: number) => void): void {
  callback(null, address, address.includes(':') ? 6 : 4);
}

const hex = (n: number) => n.toString(16).padStart(8, '0');

function bind(s: dgram.Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.bind(port, address, () => {
      s.removeListener('error', reject);
      resolve();
    });
  });
}

export function createUdpTunnel(opts: UdpTunnelOptions, deps?: UdpTunnelDeps): UdpTunnel {
  return new UdpTunnel(opts, deps);
}
