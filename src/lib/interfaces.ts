import fs from 'node:fs';
import os from 'node:os';
import { TypedEmitter } from 'tiny-typed-emitter';

export interface IfaceAddress {
  family: 'IPv4' | 'IPv6';
  address: string;
  prefixLength: number;
  scopeId?: number;
}

export interface IfaceInfo {
  name: string;
  index: number;
  up: boolean;
  mac?: string;
  addresses: IfaceAddress[];
}

export interface InterfaceWatcherEvents {
  appeared: (info: IfaceInfo) => void;
  changed: (info: IfaceInfo, previous: IfaceInfo) => void;
  vanished: (name: string) => void;
  // The reader failed as a whole; the previous state is kept.
  warning: (err: Error) => void;
}

export interface InterfaceWatcherOptions {
  names: string[];
  intervalMs?: number;
  read?: (names: readonly string[]) => Map<string, IfaceInfo>;
}

const IFF_UP = 0x1;

// Reads the named interfaces from sysfs and os.networkInterfaces(); a missing
// interface is left out. Note libuv lists addresses only of interfaces that are
// up and running, so a down interface has none here.
export function readInterfaces(names: readonly string[]): Map<string, IfaceInfo> {
  const all = os.networkInterfaces();
  const found = new Map<string, IfaceInfo>();
  for (const name of names) {
    const sys = (file: string) => fs.readFileSync(`/sys/class/net/${name}/${file}`, 'utf8').trim();
    let index: number;
    let flags: number;
    try {
      index = Number(sys('ifindex'));
      flags = parseInt(sys('flags'), 16);
    } catch {
      continue; // gone, or vanished between the two reads
    }
    let mac: string | undefined;
    try {
      mac = sys('address') || undefined; // tun devices have none
    } catch {}
    const addresses: IfaceAddress[] = (all[name] || []).map((a) => ({
      family: a.family,
      address: a.address,
      prefixLength: Number((a.cidr || '').split('/')[1] ?? (a.family === 'IPv4' ? 32 : 128)),
      ...(a.family === 'IPv6' && a.scopeid ? { scopeId: a.scopeid } : {}),
    }));
    found.set(name, { name, index, up: (flags & IFF_UP) !== 0, mac, addresses });
  }
  return found;
}

function addressKey(info: IfaceInfo): string {
  return info.addresses
    .map((a) => `${a.address}/${a.prefixLength}%${a.scopeId ?? ''}`)
    .sort()
    .join(' ');
}

// What a proxy must react to: a new index means the interface was re-created
// (sockets bound to the old one are dead), up/down and addresses mean re-join.
export function interfaceChanged(a: IfaceInfo, b: IfaceInfo): boolean {
  return a.index !== b.index || a.up !== b.up || addressKey(a) !== addressKey(b);
}

export class InterfaceWatcher extends TypedEmitter<InterfaceWatcherEvents> {
  private names: string[];
  private known = new Map<string, IfaceInfo>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly intervalMs: number;
  private readonly read: (names: readonly string[]) => Map<string, IfaceInfo>;

  constructor(opts: InterfaceWatcherOptions) {
    super();
    this.names = [...opts.names];
    this.intervalMs = opts.intervalMs ?? 5000;
    this.read = opts.read || readInterfaces;
  }

  // Scans now and then every interval, so interfaces that come up after us
  // (boot) or are re-created (UniFi rebuilds bridges on provisioning) are seen.
  start(): void {
    if (this.closed || this.timer) return;
    this.timer = setInterval(() => this.update(), this.intervalMs);
    this.timer.unref();
    this.update();
  }

  update(): void {
    if (this.closed) return;
    let current: Map<string, IfaceInfo>;
    try {
      current = this.read(this.names);
    } catch (err) {
      this.emit('warning', err as Error);
      return;
    }
    for (const name of [...this.known.keys()]) {
      if (this.names.includes(name) && current.has(name)) continue;
      this.known.delete(name);
      this.emit('vanished', name);
    }
    for (const name of this.names) {
      const info = current.get(name);
      if (!info) continue;
      const previous = this.known.get(name);
      this.known.set(name, info);
      if (!previous) this.emit('appeared', info);
      else if (interfaceChanged(previous, info)) this.emit('changed', info, previous);
    }
  }

  get(name: string): IfaceInfo | undefined {
    return this.known.get(name);
  }

  // On reload: interfaces no longer named vanish, new ones appear.
  setNames(names: string[]): void {
    this.names = [...names];
    if (this.timer) this.update();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

export function createInterfaceWatcher(opts: InterfaceWatcherOptions): InterfaceWatcher {
  return new InterfaceWatcher(opts);
}
