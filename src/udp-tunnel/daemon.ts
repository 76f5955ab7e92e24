// The udp-tunnel daemon: a data socket shared by every tunnel (demuxed by the
// peer's address, as in the original), a control socket taking the original's
// JSON messages (signed when they come from off localhost), and one tun device
// per tunnel. Undecodable or forged input is counted and dropped, never fatal.
import dgram from 'node:dgram';
import { TypedEmitter } from 'tiny-typed-emitter';
import { ConfigError } from '../lib/config';
import { monotonicMs, wallTimeOf, type Clock } from '../lib/clock';
import type { DaemonLogEvents } from '../lib/log';
import { Opener, Sealer, TYPE_KEEPALIVE, TYPE_DATA } from './aead';
import { AuthError, isSigned, NonceCache, signMessage, verifyMessage } from './control-auth';
import { linuxDevices, type DeviceOps } from './device';
import type { TunnelKeys } from './keys';
import { decodeControlBody, sameSpec, type ControlRequest, type TunnelSpec } from './tunnel-spec';

export const MAX_TUNNELS = 128; // keeps a `list` reply inside one datagram
const READS_PER_WAKEUP = 256; // then yield to the loop; uv_poll fires again
const SILENT_AFTER_KEEPALIVES = 3;
const MAX_REPLY_BYTES = 60_000; // a UDP datagram carries 65507, less the signature

export interface UdpTunnelOptions {
  dataPort: number;
  controlPort: number;
  controlAddress: string;
  keys?: TunnelKeys;
  /** 0: no keepalives. */
  keepaliveMs: number;
}

export interface UdpTunnelDeps {
  /** Wall clock: control message timestamps (the sender's wall time) and the status. */
  now?: Clock;
  /** Monotonic: silence and stale-session timeouts; default: now if given, else performance.now. */
  tick?: Clock;
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
  tunnels: TunnelStatus[];
}

export type ControlReply = { ok: true; message?: string; status?: UdpTunnelStatus } | { ok: false; error: string };

// addedAt and lastRx are monotonic ticks: "silent" and the stale-session rule are
// timeouts, which a step of the wall clock must not fire or freeze.
interface Tunnel {
  spec: TunnelSpec;
  fd: number;
  watch: { close(): void };
  opener?: Opener;
  addedAt: number;
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
  lastRx: number | null;
  drops: TunnelDrops;
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
  // From the state file but not restored (say the name is taken): kept in the
  // file until deleted or replaced, so one bad start does not forget them.
  private readonly unrestored = new Map<string, TunnelSpec>();
  private readonly nonces = new NonceCache();
  private readonly sealer?: Sealer;
  private readonly readBuf = Buffer.allocUnsafe(65536);
  private data?: dgram.Socket;
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
  }

  async start(): Promise<void> {
    this.data = this.createSocket();
    this.data.on('message', (msg, rinfo) => this.onData(msg, rinfo.address));
    this.data.on('error', (err) => this.emit('warning', 'data-socket', `data socket: ${err.message}`));
    await bind(this.data, this.opts.dataPort, '0.0.0.0').catch((err) => {
      throw new Error(`cannot listen for data on UDP port ${this.opts.dataPort}: ${err.message}`);
    });
    // Room for a burst while the loop is busy sealing; the kernel caps it at rmem_max.
    try {
      this.data.setRecvBufferSize(4 << 20);
      this.data.setSendBufferSize(4 << 20);
    } catch {}
    this.control = this.createSocket();
    this.control.on('message', (msg, rinfo) => {
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
    this.emit('info', `listening: data 0.0.0.0:${this.opts.dataPort}, control ${this.opts.controlAddress}:${this.opts.controlPort}${this.opts.keys ? ', key set (ChaCha20-Poly1305)' : ', no key'}`);
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
    const fd = this.devices.open(spec.name);
    const t: Tunnel = {
      spec,
      fd,
      watch: { close() {} },
      opener: this.opts.keys ? new Opener(this.opts.keys.data) : undefined,
      addedAt: this.tick(),
      rxPackets: 0,
      rxBytes: 0,
      txPackets: 0,
      txBytes: 0,
      lastRx: null,
      drops: { forged: 0, replayed: 0, malformed: 0, tunFull: 0, sendFailed: 0 },
    };
    try {
      await this.devices.configure(spec);
    } catch (err) {
      this.devices.close(fd);
      throw err;
    }
    t.watch = this.devices.watch(fd, () => this.onTunReadable(t));
    this.tunnels.set(spec.name, t);
    this.byRemote.set(spec.remoteServer, t);
    this.unrestored.delete(spec.name);
    if (persist) this.persist();
  }

  private async remove(name: string): Promise<void> {
    const t = this.tunnels.get(name)!;
    this.tunnels.delete(name);
    this.byRemote.delete(t.spec.remoteServer);
    t.watch.close();
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

  private onTunReadable(t: Tunnel): void {
    for (let i = 0; i < READS_PER_WAKEUP; i++) {
      if (this.tunnels.get(t.spec.name) !== t) return;
      let n: number;
      try {
        n = this.devices.read(t.fd, this.readBuf);
      } catch (err) {
        this.emit('warning', `read-${t.spec.name}`, `tun ${t.spec.name}: ${(err as Error).message}`);
        return;
      }
      if (n < 0) return;
      if (n === 0) continue;
      const pkt = this.readBuf.subarray(0, n);
      // dgram keeps the buffer until sent: each datagram gets its own.
      const out = this.sealer ? this.sealer.seal(TYPE_DATA, pkt) : Buffer.from(pkt);
      this.sendTo(t, out, n);
    }
  }

  private sendTo(t: Tunnel, out: Buffer, payloadBytes: number): void {
    this.data?.send(out, this.opts.dataPort, t.spec.remoteServer, (err) => {
      if (err) {
        t.drops.sendFailed++;
        this.emit('warning', `send-${t.spec.name}`, `send to ${t.spec.remoteServer}: ${err.message}`);
      }
    });
    if (payloadBytes > 0) {
      t.txPackets++;
      t.txBytes += payloadBytes;
    }
  }

  /** One data datagram from the underlay. Exposed for tests. */
  onData(msg: Buffer, from: string): void {
    const t = this.byRemote.get(from.startsWith('::ffff:') ? from.slice(7) : from);
    if (!t) {
      this.counters.unknownSource++;
      return;
    }
    let payload = msg;
    if (t.opener) {
      const r = t.opener.open(msg, this.tick());
      if (!r.ok) {
        if (r.reason === 'forged') t.drops.forged++;
        else if (r.reason === 'malformed') t.drops.malformed++;
        else t.drops.replayed++;
        return;
      }
      t.lastRx = this.tick();
      if (r.type === TYPE_KEEPALIVE) return;
      payload = r.payload;
    } else if (msg.length === 0) {
      t.lastRx = this.tick(); // a keyless keepalive
      return;
    }
    const version = payload.length ? payload[0] >> 4 : 0;
    if (version !== 4 && version !== 6) {
      t.drops.malformed++;
      return;
    }
    t.lastRx = this.tick();
    t.rxPackets++;
    t.rxBytes += payload.length;
    try {
      if (!this.devices.write(t.fd, payload, payload.length)) t.drops.tunFull++;
    } catch (err) {
      t.drops.tunFull++;
      this.emit('warning', `write-${t.spec.name}`, `tun ${t.spec.name}: ${(err as Error).message}`);
    }
  }

  /** Exposed for tests (the timer calls it). */
  sendKeepalives(): void {
    for (const t of this.tunnels.values()) {
      this.sendTo(t, this.sealer ? this.sealer.seal(TYPE_KEEPALIVE, Buffer.alloc(0)) : Buffer.alloc(0), 0);
    }
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

  /** Closes sockets and devices (the kernel removes the devices and their routes). Safe twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.keepaliveTimer) clearInterval(this.keepaliveTimer);
    for (const t of this.tunnels.values()) {
      t.watch.close();
      this.devices.close(t.fd);
    }
    this.tunnels.clear();
    this.byRemote.clear();
    this.data?.close();
    this.control?.close();
  }
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
