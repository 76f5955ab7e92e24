// The daemon tests' stand-ins: a dgram socket that records what is sent and
// lets a test deliver datagrams, and a proxy started on them with a clock.
import { EventEmitter } from 'node:events';
import type dgram from 'node:dgram';
import type { IfaceInfo } from '../../src/lib/interfaces';
import { createSsdpProxy, type SsdpProxyDeps, type SsdpProxyOptions } from '../../src/ssdp-proxy/daemon';
import { decodeFrame, encodeFrame, type Frame } from '../../src/ssdp-proxy/frame';

export const KEY = Buffer.from('0123456789abcdef0123456789abcdef');

export class FakeSocket extends EventEmitter {
  static nextPort = 40000;
  port = 0;
  boundTo?: string;
  sent: { buf: Buffer; port: number; address: string; via?: string; ttl?: number }[] = [];
  joined: string[] = [];
  via?: string;
  ttl?: number;
  loop?: boolean;
  closed = false;
  constructor(
    readonly type: 'udp4' | 'udp6',
    /** Created with SO_REUSEADDR/SO_REUSEPORT (CreateSocket's `shared`). */
    readonly shared = false,
  ) {
    super();
  }
  bind(opts: { address?: string; port: number }, cb: () => void) {
    this.boundTo = opts.address;
    this.port = opts.port || FakeSocket.nextPort++;
    queueMicrotask(cb);
  }
  address() {
    return { address: this.type === 'udp4' ? '0.0.0.0' : '::', port: this.port, family: this.type === 'udp4' ? 'IPv4' : 'IPv6' };
  }
  send(buf: Buffer, port: number, address: string, cb?: (err: Error | null) => void) {
    this.sent.push({ buf: Buffer.from(buf), port, address, via: this.via, ttl: this.ttl });
    cb?.(null);
  }
  addMembership(_g: string, a: string) {
    this.joined.push(a);
  }
  dropMembership() {}
  setMulticastInterface(a: string) {
    this.via = a;
  }
  setMulticastTTL(t: number) {
    this.ttl = t;
  }
  setMulticastLoopback(on: boolean) {
    this.loop = on;
  }
  setTTL() {}
  close() {
    this.closed = true;
  }
  deliver(buf: Buffer, address: string, port: number) {
    this.emit('message', buf, { address, port, family: address.includes(':') ? 'IPv6' : 'IPv4', size: buf.length });
  }
}

export const lanInfo: IfaceInfo = { name: 'br0', index: 5, up: true, addresses: [{ family: 'IPv4', address: '192.168.1.1', prefixLength: 24 }] };
export const SEARCH = (st: string, mx = 2) => Buffer.from(`M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\nMX: ${mx}\r\nST: ${st}\r\n\r\n`);
export const REPLY = (st: string) => Buffer.from(`HTTP/1.1 200 OK\r\nST: ${st}\r\nLOCATION: http://192.168.1.10:8200/rootDesc.xml\r\n\r\n`);
export const NOTIFY = Buffer.from('NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nNT: upnp:rootdevice\r\nNTS: ssdp:alive\r\n\r\n');

/** Our relay address toward a peer, as the kernel would pick it: 10.0.0.1, or fd00::1 toward an IPv6 peer. */
export const OURS = (peer: string) => (peer.includes(':') ? 'fd00::1' : '10.0.0.1');

export async function setup(over: Partial<SsdpProxyOptions> = {}, info: IfaceInfo = lanInfo, deps: SsdpProxyDeps = {}) {
  const clock = { t: 1_800_000_000_000 };
  const sockets: FakeSocket[] = [];
  const opts: SsdpProxyOptions = { lans: ['br0'], peers: ['10.0.0.2', '10.0.0.3'], key: KEY, hub: false, port: 1901, maxPending: 4, ...over };
  const proxy = createSsdpProxy(opts, {
    now: () => clock.t,
    createSocket: (type, shared) => {
      const s = new FakeSocket(type, shared);
      sockets.push(s);
      return s as unknown as dgram.Socket;
    },
    readInterfaces: () => new Map(opts.lans.length ? [['br0', info]] : []),
    localAddressFor: async (peer) => OURS(peer),
    ...deps,
  });
  const warnings: string[] = [];
  proxy.on('warning', (_k, m) => warnings.push(m));
  await proxy.start();
  await new Promise((r) => setTimeout(r, 0)); // IPv6 LAN sockets bind asynchronously
  const find = (f: (s: FakeSocket) => boolean) => sockets.find(f);
  const lan = find((s) => s.port === 1900 && s.type === 'udp4')!;
  const notify = find((s) => ![1900, 1901, 5353].includes(s.port) && s.type === 'udp4')!;
  /** The mDNS group socket (when opts.mdns): it receives and sends mDNS on the LAN. */
  const mdns = find((s) => s.port === 5353 && s.type === 'udp4')!;
  const relay = find((s) => s.port === 1901)!;
  const frames = (peer?: string) => relay.sent.filter((s) => !peer || s.address === peer).map((s) => decodeFrame(s.buf, KEY));
  /** A frame from a peer (10.0.0.2 unless `sender` says otherwise) to us. */
  const frame = (f: Partial<Frame>): Buffer => {
    const sender = f.sender ?? '10.0.0.2';
    return encodeFrame(
      { type: 'search', hops: 0, timestamp: clock.t, id: '1111111111111111', requestId: '1111111111111111', origin: '10.0.0.2', sender, recipient: OURS(sender), payload: SEARCH('ssdp:all'), ...f },
      KEY,
    );
  };
  const tick = () => new Promise((r) => setTimeout(r, 0));
  return { proxy, clock, sockets, lan, notify, mdns, relay, frames, frame, warnings, opts, tick };
}
