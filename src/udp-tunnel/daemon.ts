// The udp-tunnel daemon: a data socket shared by every tunnel (demuxed by the
// peer's address, as in the original), a control socket taking the original's
// JSON messages (signed when they come from off localhost), and one tun device
// per tunnel. Undecodable or forged input is counted and dropped, never fatal.
import dgram from 'node:dgram';
import { TypedEmitter } from 'tiny-typed-emitter';
import { ConfigError } from '../lib/config';
import { monotonicMs, wallTimeOf, type Clock } from '../lib/clock';
import type { DaemonLogEvents } from '../lib/log';
import { noteReceived } from '../lib/memory';
import { describeOffload, type DataPathStatus } from '../lib/offload';
import { sockAddr } from '../lib/sockaddr';
import { Opener, Sealer } from './aead';
import { DataPath, type DataPathCounters, type DataTunnel } from './datapath';
import { AuthError, isSigned, NonceCache, signMessage, verifyMessage } from './control-auth';
import { linuxDevices, type DeviceOps } from './device';
import type { TunnelKeys } from './keys';
import { decodeControlBody, sameSpec, type ControlRequest, type TunnelSpec } from './tunnel-spec';

export const MAX_TUNNELS = 128; // keeps a `list` reply inside one datagram
const SILENT_AFTER_KEEPALIVES = 3;
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
  /** Where the data socket binds (every address by default). */
  dataAddress?: string;
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
  /** Called with the whole table after every change. */
  saveTunnels?: (tunnels: TunnelSpec[]) => void;
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

export interface TunnelStatus extends TunnelSpec {
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
  tunnels: TunnelStatus[];
}

export type ControlReply = { ok: true; message?: string; status?: UdpTunnelStatus } | { ok: false; error: string };

// addedAt and lastRx are monotonic ticks: "silent" and the stale-session rule are
// timeouts, which a step of the wall clock must not fire or freeze.
interface Tunnel extends DataTunnel {
  spec: TunnelSpec;
  addedAt: number;
  drops: TunnelDrops;
}

function ipNumber(address: string): number {
  return sockAddr(address, 0).w3;
}

function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.');
}

export class UdpTunnel extends TypedEmitter<UdpTunnelEvents> {
  private readonly now: Clock;
  private readonly tick: Clock;
  private readonly devices: DeviceOps;
  private readonly createSocket: () => dgram.Socket;
  private readonly save: (tunnels: TunnelSpec[]) => void;
  private readonly tunnels = new Map<string, Tunnel>(); // by name
  private readonly byRemote = new Map<string, Tunnel>();
  private readonly byIp = new Map<number, Tunnel>();
  private readonly byTag = new Map<number, Tunnel>();
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
    this.createSocket = deps.createSocket ?? (() => dgram.createSocket({ type: 'udp4', lookup: literalLookup }));
    this.save = deps.saveTunnels ?? (() => {});
    this.startedAt = this.now();
    if (opts.keys) this.sealer = new Sealer(opts.keys.data, this.startedAt);
    this.data = new DataPath(
      { port: opts.dataPort, address: opts.dataAddress ?? '0.0.0.0', offload: opts.offload !== false, sealer: this.sealer },
      {
        devices: this.devices,
        tick: this.tick,
        tunnelFrom: (ip) => this.byIp.get(ip),
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
    this.emit('info', `listening: data ${this.opts.dataAddress ?? '0.0.0.0'}:${this.opts.dataPort}, control ${this.opts.controlAddress}:${this.opts.controlPort}${this.sealer ? `, key set (ChaCha20-Poly1305, ${this.sealer.engine.name})` : ', no key'}`);
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
        await this.add(spec, true);
        done.push(`${spec.name} added`);
        this.emit('info', `tunnel ${spec.name} added: ${spec.tunnelIP}/${spec.netmask} mtu ${spec.mtu} to ${spec.remoteServer}${spec.routes.length ? `, routes ${spec.routes.join(' ')}` : ''}`);
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

  private async add(spec: TunnelSpec, persist: boolean): Promise<void> {
    if (this.tunnels.has(spec.name)) throw new Error(`tunnel ${spec.name} exists with other settings; delete it first`);
    const other = this.byRemote.get(spec.remoteServer);
    if (other) throw new Error(`tunnel ${other.spec.name} already goes to ${spec.remoteServer} (one tunnel per remote)`);
    if (this.tunnels.size >= MAX_TUNNELS) throw new Error(`at most ${MAX_TUNNELS} tunnels`);
    const dev = this.devices.open(spec.name, this.opts.offload !== false);
    this.data.deviceOpened(dev.refused);
    const t: Tunnel = {
      spec,
      fd: dev.fd,
      vnet: dev.vnet,
      tag: this.nextTag++,
      remote: sockAddr(spec.remoteServer, this.opts.dataPort),
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
    this.tunnels.set(spec.name, t);
    this.byRemote.set(spec.remoteServer, t);
    this.byIp.set(ipNumber(spec.remoteServer), t);
    this.byTag.set(t.tag, t);
    this.unrestored.delete(spec.name);
    if (persist) this.persist();
  }

  private forget(t: Tunnel): void {
    this.tunnels.delete(t.spec.name);
    this.byRemote.delete(t.spec.remoteServer);
    this.byIp.delete(ipNumber(t.spec.remoteServer));
    this.byTag.delete(t.tag);
    t.watch.close();
    t.opener?.free();
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
      this.save([...[...this.tunnels.values()].map((t) => t.spec), ...this.unrestored.values()]);
    } catch (err) {
      this.emit('warning', 'state', `cannot save the state file: ${(err as Error).message}`);
    }
  }

  /** One data datagram from the underlay, as if received alone. Exposed for tests. */
  onData(msg: Uint8Array, from: string): void {
    this.data.receive(msg, ipNumber(from.startsWith('::ffff:') ? from.slice(7) : from));
  }

  /** Exposed for tests (the timer calls it). */
  sendKeepalives(): void {
    for (const t of this.tunnels.values()) this.data.keepalive(t);
    this.data.flush();
  }

  /** Each tunnel's remote address, once: the peers the firewall lets in. */
  remotes(): string[] {
    return [...new Set([...this.tunnels.values()].map((t) => t.spec.remoteServer))];
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
      tunnels: [...this.tunnels.values()].map((t) => ({
        ...t.spec,
        addedAt: wall(t.addedAt),
        rxPackets: t.rxPackets,
        rxBytes: t.rxBytes,
        txPackets: t.txPackets,
        txBytes: t.txBytes,
        lastRx: t.lastRx === null ? null : wall(t.lastRx),
        silent: ka > 0 && tick - (t.lastRx ?? t.addedAt) > SILENT_AFTER_KEEPALIVES * ka,
        drops: { ...t.drops },
      })),
    };
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

// Every address we send to is an IPv4 literal; skip dns.lookup's extra tick.
function literalLookup(address: string, family: unknown, callback: (err: Error | null, address: string, family: number) => void): void {
  callback(null, address, 4);
}

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
