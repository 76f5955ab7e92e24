// udp-tunnel's data plane: the shared data socket and the tun devices.
//
// Underlay -> tun: recvmmsg takes up to a batch of datagrams into preallocated
// slots (with room in front of each for a virtio-net header); each is matched
// to its tunnel (keyed: by the sender's site in the header, else by the
// sender's address, read as numbers, no string), opened in place when keyed,
// checked, and handed to the coalescer (gro.ts), which joins the
// consecutive TCP segments of a flow into super-packets; every packet is then
// one write to its tun device.
//
// Tun -> underlay: each read is one packet, or with the offloads a TCP
// super-packet of up to 64 KB, which tso.ts cuts into MSS-sized packets laid
// out back to back; they go out with one sendmsg and UDP_SEGMENT (UDP GSO: the
// kernel cuts the datagrams, Linux >= 4.18), or as a batch of datagrams with
// sendmmsg where GSO is refused. Plain packets read one after another are sent
// together with sendmmsg once the device has nothing more (never held back).
// Keyed, each packet is sealed in place. No Buffer or object per packet.
//
// The data socket is IPv6 and dual-stack (IPv4 peers appear as ::ffff:a.b.c.d),
// unless the kernel has no IPv6 or the daemon binds an IPv4 address.
// A keyed tunnel's endpoint follows the source of its newest authentic datagram
// (roaming); the daemon is told through `moved`, once per move.
//
// Each offload is probed at start or when a device is made; a refusal is
// logged once and the next simpler path taken: no GSO -> sendmmsg; no TUN
// offload -> plain packets (no TSO, no GRO); no recvmmsg/sendmmsg -> one
// datagram per call. --no-offload takes the simplest path of all.
import { MessageVector, MSG_FLAGS, MSG_TRUNC, writePointer } from '../lib/msghdr';
import { allocBlock, rawCalls, watchReadable, type NativeBlock, type ReadableWatch } from '../lib/native';
import { kernelRefusalStandIn, type DataPathStatus, type OffloadState } from '../lib/offload';
import { emptySockAddr, readSockAddrInto, sockAddr, writeSockAddr, type SockAddr } from '../lib/sockaddr';
import {
  bindSocket,
  closeSocket,
  DatagramRing,
  discardPages,
  EAGAIN,
  EINTR,
  ENOBUFS,
  errnoName,
  newSendOutcome,
  openUdpSocket,
  probeBatching,
  sendBatch,
  setBufferSizes,
  setIntOption,
  SO_NO_CHECK,
  SOL_SOCKET,
} from '../lib/udp-socket';
import { HEADER_BYTES, OPEN_FORGED, OPEN_MALFORMED, OVERHEAD, SITE_AT, TYPE_DATA, TYPE_KEEPALIVE, type Opener, type Sealer } from './aead';
import { TcpCoalescer } from './gro';
import { completeChecksum, splitTcpSuperPacket, type Segments } from './tso';
import { GSO_NONE, readVnetHeader, VNET_F_NEEDS_CSUM, VNET_HDR_BYTES, writePlainVnetHeader, type VnetHeader } from './virtio';
import type { DeviceOps } from './device';

export const BATCH = 64;
/** Batches (or tun reads) one wakeup may move before it yields to the event loop. */
const MAX_BATCHES = 8;
const MAX_TUN_READS = 256;
const SOL_UDP = 17;
const UDP_SEGMENT = 103;
const EMSGSIZE = 90;
/** The largest UDP payload: what one GSO send may carry in all. */
const MAX_GSO_BYTES = 65507;
/** Linux 4.18-5.x cut a GSO send into at most 64 datagrams (UDP_MAX_SEGMENTS). */
const MAX_GSO_SEGMENTS = 64;
// Receive slot: headroom (a vnet header in front of a keyless packet), the datagram.
const RX_HEADROOM = 16;
const RX_SLOT = 65536 + RX_HEADROOM;
// Send slot: [AEAD header 26 | ... ] with the tun read at +16: vnet header 16..26, packet at 26.
const TX_SLOT = 65536 + 128;
const TX_READ_AT = HEADER_BYTES - VNET_HDR_BYTES;
const SEG_AREA = 320 * 1024;

/** A tunnel as the data plane sees it; the daemon owns the rest. */
export interface DataTunnel {
  spec: { name: string; mtu: number; remoteServer: string };
  fd: number;
  /** The peer's site (keyed), learned from its first authentic datagram; 0: not yet. */
  site: number;
  /** The device hands over and takes virtio-net headers (TSO, checksum offload, GRO). */
  vnet: boolean;
  /** Index for the coalescer: which device a joined packet goes to. */
  tag: number;
  /** Where its datagrams go (the endpoint), in the data socket's family. */
  remote: SockAddr;
  /** The smallest datagram the path refused to carry unfragmented with GSO (EMSGSIZE); 0: none yet. */
  gsoTooBig: number;
  opener?: Opener;
  watch: ReadableWatch;
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
  lastRx: number | null;
  drops: { forged: number; replayed: number; malformed: number; oversized: number; tunFull: number; sendFailed: number };
}

export interface DataPathDeps {
  devices: DeviceOps;
  tick: () => number;
  /** The tunnel whose remote has this address (any port). */
  tunnelFrom: (from: SockAddr) => DataTunnel | undefined;
  /** The keyed tunnel whose peer is this site. */
  tunnelBySite: (site: number) => DataTunnel | undefined;
  tunnelByTag: (tag: number) => DataTunnel | undefined;
  /** A keyed tunnel's newest authentic datagram came from elsewhere than its endpoint. */
  moved: (t: DataTunnel, from: SockAddr) => void;
  /** A keyed tunnel found by address heard its peer's site for the first time (or a new one). */
  learnedSite: (t: DataTunnel, site: number) => void;
  warning: (key: string, message: string) => void;
  unknownSource: () => void;
}

export interface DataPathCounters {
  /** TCP segments joined into a super-packet before the tun device (GRO). */
  groJoined: number;
  groSuperPackets: number;
  /** Super-packets read from a tun device and cut into segments (TSO). */
  tsoSuperPackets: number;
  tsoSegments: number;
  /** sendmsg calls with UDP_SEGMENT, and the datagrams they carried. */
  gsoSends: number;
  gsoDatagrams: number;
}

export class DataPath {
  readonly state: DataPathStatus;
  readonly counters: DataPathCounters = { groJoined: 0, groSuperPackets: 0, tsoSuperPackets: 0, tsoSegments: 0, gsoSends: 0, gsoDatagrams: 0 };
  private fd = -1;
  private watch?: ReadableWatch;
  private readonly batched: boolean;
  private gso: boolean;
  private readonly rx: DatagramRing;
  private readonly gro: TcpCoalescer;
  // Send side: BATCH slots, the segment area, a vector for sendmmsg, one header for GSO.
  private readonly tx: NativeBlock;
  private readonly txVec: MessageVector;
  private readonly gsoVec: MessageVector;
  private readonly segAt: number;
  private readonly cmsgAt: number;
  private pending = 0;
  private pendingTunnel: DataTunnel[] = [];
  private readonly outcome = newSendOutcome();
  private readonly hdr: VnetHeader = { flags: 0, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 };
  private readonly segs: Segments = { count: 0, segBytes: 0, lastBytes: 0 };
  private readonly port: number;
  /** 6: the socket is AF_INET6 (dual-stack); addresses we send to are written as IPv6. */
  private family: 4 | 6 = 4;
  private readonly src: SockAddr = emptySockAddr();

  constructor(
    private readonly opts: { port: number; address: string; offload: boolean; sealer?: Sealer },
    private readonly deps: DataPathDeps,
  ) {
    this.port = opts.port;
    const refused = opts.offload ? probeBatching(kernelRefusalStandIn('batching')) : undefined;
    const batching: OffloadState = !opts.offload ? { state: 'off' } : refused ? { state: 'refused', detail: refused } : { state: 'on' };
    this.batched = batching.state === 'on';
    this.gso = opts.offload;
    this.state = {
      batching,
      'udp-gso': opts.offload ? { state: 'on' } : { state: 'off' },
      'tun-offload': opts.offload ? { state: 'on' } : { state: 'off' },
    };
    this.rx = new DatagramRing(BATCH, RX_SLOT, RX_HEADROOM, VNET_HDR_BYTES + 65536 + 64);
    this.gro = new TcpCoalescer(this.rx.u8, this.rx.view, this.rx.extraOffset, (tag, off, len) => this.writeTun(tag, off, len));
    const vecBytes = MessageVector.bytes(BATCH);
    this.segAt = BATCH * TX_SLOT;
    const vecAt = this.segAt + SEG_AREA;
    const gsoAt = vecAt + vecBytes;
    this.cmsgAt = gsoAt + MessageVector.bytes(1);
    this.tx = allocBlock(this.cmsgAt + 64);
    this.txVec = new MessageVector(this.tx.view, this.tx.base, vecAt, BATCH);
    this.gsoVec = new MessageVector(this.tx.view, this.tx.base, gsoAt, 1);
    // struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; } + u16: CMSG_LEN(2) = 18, CMSG_SPACE(2) = 24.
    writePointer(this.tx.view, this.cmsgAt, 18);
    this.tx.view.setInt32(this.cmsgAt + 8, SOL_UDP, true);
    this.tx.view.setInt32(this.cmsgAt + 12, UDP_SEGMENT, true);
    this.gsoVec.setControl(0, this.tx.base + this.cmsgAt, 24);
  }

  /** Opens and binds the data socket; throws (SyscallError) when it cannot. */
  start(): void {
    let fd: number;
    let family: 4 | 6 = this.opts.address.includes(':') ? 6 : 4;
    const any = this.opts.address === '::';
    try {
      fd = openUdpSocket(family);
    } catch (err) {
      if (!any) throw err;
      // No IPv6 in this kernel: IPv4 alone, as before.
      this.deps.warning('ipv6', `no IPv6 data socket (${(err as Error).message}): IPv4 peers only`);
      family = 4;
      fd = openUdpSocket(4);
    }
    try {
      bindSocket(fd, sockAddr(family === 4 && any ? '0.0.0.0' : this.opts.address, this.opts.port));
    } catch (err) {
      closeSocket(fd);
      throw err;
    }
    this.family = family;
    // Room for a burst while the loop is busy sealing; the kernel caps it at [rw]mem_max.
    setBufferSizes(fd, 4 << 20);
    this.fd = fd;
    if (this.gso) {
      // Asking for no segmentation tells whether the kernel knows UDP_SEGMENT at all.
      const r = setIntOption(fd, SOL_UDP, UDP_SEGMENT, 0);
      if (r < 0) this.refuseGso(errnoName(-r));
      // The stand-in: without UDP checksums every GSO send is refused (EINVAL).
      else if (kernelRefusalStandIn('udp-gso')) setIntOption(fd, SOL_SOCKET, SO_NO_CHECK, 1);
    }
    const b = this.state.batching!;
    if (b.state === 'refused') this.deps.warning('batching', `the kernel refused recvmmsg/sendmmsg (${b.detail}): moving one datagram per system call`);
    this.watch = watchReadable(fd, () => this.onDatagrams());
  }

  /** Records how a new device came out: offloads on, off, or refused (logged once). */
  deviceOpened(refused: string | undefined): void {
    const s = this.state['tun-offload']!;
    if (refused === undefined || s.state !== 'on') return;
    this.state['tun-offload'] = { state: 'refused', detail: refused };
    this.deps.warning('tun-offload', `the kernel refused TUNSETOFFLOAD (${refused}): tun devices move plain packets (no TSO, no GRO)`);
  }

  private refuseGso(why: string): void {
    this.gso = false;
    this.state['udp-gso'] = { state: 'refused', detail: why };
    this.deps.warning('udp-gso', `the kernel refused UDP GSO (${why}): sending each datagram with sendmmsg`);
  }

  // ------------------------------------------------------------ underlay -> tun

  private onDatagrams(): void {
    const ring = this.rx;
    for (let b = 0; b < MAX_BATCHES && this.fd >= 0; b++) {
      const n = ring.recv(this.fd, 0, BATCH, this.batched);
      if (n < 0) {
        this.deps.warning('data-socket', `data socket: ${errnoName(-n)}`);
        return;
      }
      for (let i = 0; i < n; i++) {
        if (!readSockAddrInto(ring.view, ring.nameOffset(i), this.src)) continue;
        const truncated = (ring.msgs.view.getInt32(ring.msgs.headerOffset(i) + MSG_FLAGS, true) & MSG_TRUNC) !== 0;
        this.datagram(this.src, ring.dataOffset(i), truncated ? -1 : ring.length(i));
      }
      this.gro.flush();
      if (n < BATCH) break;
    }
    this.syncGroCounters();
  }

  /** The address in the data socket's family: what a tunnel's endpoint must be. */
  socketAddress(a: SockAddr): SockAddr {
    return { ...a, family: this.family === 6 ? 6 : a.family };
  }

  /** One datagram at off (len bytes; -1: larger than a slot) from src. */
  private datagram(src: SockAddr, off: number, len: number): void {
    // Keyed: the sender's site, then its address (a first datagram, or a peer of an
    // earlier version, whose site bytes are random). The tag decides either way.
    const site = this.opts.sealer && len >= OVERHEAD ? this.rx.view.getUint32(off + SITE_AT) : 0;
    const t = (site !== 0 ? this.deps.tunnelBySite(site) : undefined) ?? this.deps.tunnelFrom(src);
    if (t === undefined) {
      this.deps.unknownSource();
      return;
    }
    // Larger than the tunnel carries: dropped before any work, in its slot.
    if (len < 0 || len > t.spec.mtu + (t.opener ? OVERHEAD : 0)) {
      t.drops.oversized++;
      return;
    }
    let pkt = off;
    let plen = len;
    const now = this.deps.tick();
    if (t.opener) {
      const r = t.opener.openInPlace(this.rx.block, off, len, now);
      if (r < 0) {
        if (r === OPEN_FORGED) t.drops.forged++;
        else if (r === OPEN_MALFORMED) t.drops.malformed++;
        else t.drops.replayed++;
        return;
      }
      t.lastRx = now;
      if (t.opener.newest) {
        if (t.site !== site) this.deps.learnedSite(t, site);
        const e = t.remote;
        if (src.port !== e.port || src.w3 !== e.w3 || src.w2 !== e.w2 || src.w1 !== e.w1 || src.w0 !== e.w0) this.deps.moved(t, src);
      }
      if (r === TYPE_KEEPALIVE) return;
      pkt = off + HEADER_BYTES;
      plen = len - OVERHEAD;
    } else if (len === 0) {
      t.lastRx = now; // a keyless keepalive
      return;
    }
    const version = plen ? this.rx.u8[pkt] >> 4 : 0;
    if (version !== 4 && version !== 6) {
      t.drops.malformed++;
      return;
    }
    t.lastRx = now;
    t.rxPackets++;
    t.rxBytes += plen;
    if (!t.vnet) this.writeTun(t.tag, pkt, plen);
    else if (this.state['tun-offload']!.state === 'on') this.gro.add(t.tag, pkt, plen);
    else {
      writePlainVnetHeader(this.rx.view, pkt - VNET_HDR_BYTES);
      this.writeTun(t.tag, pkt - VNET_HDR_BYTES, plen + VNET_HDR_BYTES);
    }
  }

  private writeTun(tag: number, off: number, len: number): void {
    const t = this.deps.tunnelByTag(tag);
    if (t === undefined) return;
    try {
      if (!this.deps.devices.write(t.fd, this.rx.block, off, len)) t.drops.tunFull++;
    } catch (err) {
      t.drops.tunFull++;
      this.deps.warning(`write-${t.spec.name}`, `tun ${t.spec.name}: ${(err as Error).message}`);
    }
  }

  private syncGroCounters(): void {
    this.counters.groJoined = this.gro.joined;
    this.counters.groSuperPackets = this.gro.superPackets;
  }

  /** One datagram from outside the batch loop (tests): as if received alone. */
  receive(msg: Uint8Array, from: SockAddr): void {
    if (msg.length > RX_SLOT - RX_HEADROOM) return this.datagram(from, 0, -1);
    const off = this.rx.dataOffset(0);
    this.rx.u8.set(msg, off);
    this.datagram(from, off, msg.length);
    this.gro.flush();
    this.syncGroCounters();
  }

  // ------------------------------------------------------------ tun -> underlay

  /** The device of t is readable: read until it is empty (or the cap), sending as we go. */
  onTunReadable(t: DataTunnel, alive: () => boolean): void {
    const dev = this.deps.devices;
    for (let i = 0; i < MAX_TUN_READS && alive(); i++) {
      if (this.pending === BATCH) this.flush();
      const slot = this.pending * TX_SLOT;
      const readAt = slot + (t.vnet ? TX_READ_AT : HEADER_BYTES);
      let n: number;
      try {
        n = dev.read(t.fd, this.tx, readAt, TX_SLOT - 64 - (readAt - slot));
      } catch (err) {
        this.deps.warning(`read-${t.spec.name}`, `tun ${t.spec.name}: ${(err as Error).message}`);
        break;
      }
      if (n < 0) break;
      // No endpoint yet (its name has never resolved): nowhere to send it.
      if (t.remote.port === 0) {
        t.drops.sendFailed++;
        continue;
      }
      let plen = n;
      if (t.vnet) {
        if (n < VNET_HDR_BYTES) continue;
        plen = n - VNET_HDR_BYTES;
        const h = readVnetHeader(this.tx.view, readAt, this.hdr);
        if (h.gsoType !== GSO_NONE) {
          this.flush(); // in order: what was read before goes first
          this.superPacket(t, slot + HEADER_BYTES, plen, h);
          continue;
        }
        if (h.flags & VNET_F_NEEDS_CSUM && !completeChecksum(this.tx.view, slot + HEADER_BYTES, plen, h.csumStart, h.csumOffset)) {
          t.drops.malformed++;
          continue;
        }
      }
      if (plen === 0) continue;
      this.queue(t, slot, plen);
    }
    this.flush();
  }

  // The packet is at slot + HEADER_BYTES: sealed in place (header before it, tag after) or sent as is.
  private queue(t: DataTunnel, slot: number, plen: number): void {
    const i = this.pending++;
    let at = slot + HEADER_BYTES;
    let len = plen;
    if (this.opts.sealer) {
      len = this.opts.sealer.sealInPlace(this.tx, slot, plen, TYPE_DATA);
      at = slot;
    }
    this.txVec.setIov(i, 0, this.tx.base + at, len);
    this.txVec.useOwnName(i, writeSockAddr(this.tx.view, this.txVec.nameOffset(i), t.remote));
    this.pendingTunnel[i] = t;
    t.txPackets++;
    t.txBytes += plen;
  }

  /** Sends what is queued. */
  flush(): void {
    if (this.pending === 0 || this.fd < 0) {
      this.pending = 0;
      return;
    }
    const o = this.outcome;
    sendBatch(this.fd, this.txVec, 0, this.pending, this.batched, o);
    if (o.failed > 0) this.sendFailed(this.pendingTunnel[0], o.failed, o.errno);
    this.pending = 0;
  }

  private sendFailed(t: DataTunnel, n: number, errno: number): void {
    t.drops.sendFailed += n;
    if (errno !== EAGAIN && errno !== ENOBUFS) this.deps.warning(`send-${t.spec.name}`, `send to ${t.spec.remoteServer}: ${errnoName(errno)}`);
  }

  // A TCP super-packet at off (plen bytes): cut, sealed, and sent with GSO or sendmmsg.
  private superPacket(t: DataTunnel, off: number, plen: number, h: VnetHeader): void {
    const keyed = this.opts.sealer !== undefined;
    const tcpLen = (this.tx.u8[off + h.csumStart + 12] >> 4) * 4;
    const segMax = h.csumStart + tcpLen + h.gsoSize;
    const stride = segMax + (keyed ? OVERHEAD : 0);
    const s = this.segs;
    const dst = this.segAt + (keyed ? HEADER_BYTES : 0);
    if (segMax > t.spec.mtu + 64 || Math.ceil(plen / h.gsoSize + 1) * stride > SEG_AREA || !splitTcpSuperPacket(this.tx.u8, this.tx.view, off, plen, h, dst, stride, s)) {
      t.drops.malformed++;
      return;
    }
    this.counters.tsoSuperPackets++;
    this.counters.tsoSegments += s.count;
    let payload = 0;
    for (let i = 0; i < s.count; i++) {
      const segLen = i === s.count - 1 ? s.lastBytes : s.segBytes;
      payload += segLen;
      if (keyed) this.opts.sealer!.sealInPlace(this.tx, this.segAt + i * stride, segLen, TYPE_DATA);
    }
    t.txPackets += s.count;
    t.txBytes += payload;
    const wire = (i: number) => (i === s.count - 1 ? s.lastBytes : s.segBytes) + (keyed ? OVERHEAD : 0);
    // Same-sized datagrams, back to back: the kernel cuts them (UDP GSO).
    const per = Math.max(1, Math.min(MAX_GSO_SEGMENTS, Math.floor(MAX_GSO_BYTES / stride)));
    for (let first = 0; first < s.count; first += per) {
      const n = Math.min(per, s.count - first);
      // A datagram larger than the path's MTU must be fragmented, which GSO never does.
      if (this.gso && n > 1 && (t.gsoTooBig === 0 || stride < t.gsoTooBig)) {
        const bytes = (n - 1) * stride + wire(first + n - 1);
        const r = this.sendGso(t, this.segAt + first * stride, bytes, stride);
        if (r === 0) {
          this.counters.gsoSends++;
          this.counters.gsoDatagrams += n;
          continue;
        }
        if (r === EAGAIN || r === ENOBUFS) {
          t.drops.sendFailed += n;
          continue;
        }
        // EMSGSIZE: larger than the path's MTU, so fragments; anything else: GSO refused.
        if (r === EMSGSIZE) t.gsoTooBig = stride;
        else this.refuseGso(errnoName(r));
      }
      for (let k = 0; k < n; k++) {
        const i = first + k;
        this.txVec.setIov(k, 0, this.tx.base + this.segAt + i * stride, wire(i));
        this.txVec.useOwnName(k, writeSockAddr(this.tx.view, this.txVec.nameOffset(k), t.remote));
      }
      const o = this.outcome;
      sendBatch(this.fd, this.txVec, 0, n, this.batched, o);
      if (o.failed > 0) this.sendFailed(t, o.failed, o.errno);
    }
  }

  /** One sendmsg with UDP_SEGMENT; 0, or the errno. */
  private sendGso(t: DataTunnel, off: number, bytes: number, segment: number): number {
    const v = this.gsoVec;
    v.setIov(0, 0, this.tx.base + off, bytes);
    v.useOwnName(0, writeSockAddr(this.tx.view, v.nameOffset(0), t.remote));
    this.tx.view.setUint16(this.cmsgAt + 16, segment, true);
    const s = rawCalls();
    for (;;) {
      if (s.sendmsg(this.fd, v.address, 0) >= 0) return 0;
      const e = s.errno();
      if (e !== EINTR) return e;
    }
  }

  /** A keepalive to t: an empty datagram, sealed when keyed. */
  keepalive(t: DataTunnel): void {
    if (this.pending === BATCH) this.flush();
    const slot = this.pending * TX_SLOT;
    const i = this.pending++;
    const len = this.opts.sealer ? this.opts.sealer.sealInPlace(this.tx, slot, 0, TYPE_KEEPALIVE) : 0;
    this.txVec.setIov(i, 0, this.tx.base + slot, len);
    this.txVec.useOwnName(i, writeSockAddr(this.tx.view, this.txVec.nameOffset(i), t.remote));
    this.pendingTunnel[i] = t;
  }

  watchTunnel(t: DataTunnel, alive: () => boolean): ReadableWatch {
    return this.deps.devices.watch(t.fd, () => this.onTunReadable(t, alive));
  }

  /**
   * After a burst (lib/memory.ts): the pages of the receive and send slots back
   * to the kernel. Nothing is kept in them between wakeups (every wakeup ends
   * with a flush), so only the cost of touching them again is lost.
   */
  discard(): void {
    this.rx.discard();
    if (this.pending === 0) discardPages(this.tx, 0, this.segAt + SEG_AREA);
  }

  close(): void {
    this.watch?.close();
    this.watch = undefined;
    if (this.fd >= 0) closeSocket(this.fd);
    this.fd = -1;
    this.rx.free();
    this.tx.free();
  }
}

