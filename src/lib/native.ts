// The few Linux system calls Node has no API for, through koffi: TUN devices,
// AF_PACKET sockets with a classic BPF filter, readiness polling, and the
// batched datagram calls of the data paths (recvmmsg, sendmmsg, epoll).
// Structures are laid out by hand (the layouts are the same on x86_64 and
// aarch64 Linux but for epoll_event), so the surface stays small and typed.
//
// The data-path calls take integer addresses into one koffi.alloc block
// (NativeBlock): a small Buffer can live on the V8 heap and move, so its
// address must never be stored in a struct, and an integer argument costs
// less per call than a Buffer koffi must pin.
import * as util from 'node:util';
import { loadKoffi, type KoffiModule } from './koffi-loader';

// <fcntl.h>, <sys/socket.h>, <linux/if_packet.h>, <linux/if_tun.h>: identical
// values on x86_64 and aarch64 (both use the generic asm constants).
const O_RDWR = 2;
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const AF_PACKET = 17;
const SOCK_RAW = 3;
const SOL_SOCKET = 1;
const SO_RCVBUF = 8;
const SO_ATTACH_FILTER = 26;
const SOL_PACKET = 263;
const PACKET_ADD_MEMBERSHIP = 1;
const PACKET_MR_ALLMULTI = 2;
const TUNSETIFF = 0x400454ca;
const TUNSETOFFLOAD = 0x400454d0;
const IFF_TUN = 0x0001;
const IFF_NO_PI = 0x1000;
const IFF_VNET_HDR = 0x4000;
// <linux/if_tun.h> TUN_F_*: what a tun device may hand over.
export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO4 = 0x02;
export const TUN_F_TSO6 = 0x04;
const IFNAMSIZ = 16;
export const EAGAIN = 11;
export const ETH_P_ALL = 0x0003;
export const ETH_P_IPV6 = 0x86dd;

/** One classic BPF instruction (struct sock_filter). */
export interface BpfInstruction {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/**
 * The raw calls, numbers in and out: addresses are integers into a
 * NativeBlock. A negative result means koffi.errno() holds the cause: read it
 * before any other FFI call.
 */
export interface RawCalls {
  socket(domain: number, type: number, protocol: number): number;
  close(fd: number): number;
  bind(fd: number, addr: number, len: number): number;
  connect(fd: number, addr: number, len: number): number;
  getsockname(fd: number, addr: number, lenAddr: number): number;
  setsockopt(fd: number, level: number, name: number, value: number, len: number): number;
  getsockopt(fd: number, level: number, name: number, value: number, lenAddr: number): number;
  recvmmsg(fd: number, vec: number, vlen: number, flags: number, timeout: number): number;
  sendmmsg(fd: number, vec: number, vlen: number, flags: number): number;
  recvmsg(fd: number, msg: number, flags: number): number;
  sendmsg(fd: number, msg: number, flags: number): number;
  read(fd: number, buf: number, count: number): number;
  write(fd: number, buf: number, count: number): number;
  ioctl(fd: number, request: number, arg: number): number;
  epoll_create1(flags: number): number;
  epoll_ctl(epfd: number, op: number, fd: number, event: number): number;
  epoll_wait(epfd: number, events: number, max: number, timeout: number): number;
  madvise(addr: number, len: number, advice: number): number;
  malloc_trim(pad: number): number;
  errno(): number;
}

interface Libc {
  open(path: string, flags: number, mode: number): number;
  close(fd: number): number;
  read(fd: number, buf: Uint8Array, count: number): number;
  write(fd: number, buf: Uint8Array, count: number): number;
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, addr: Uint8Array, len: number): number;
  setsockopt(fd: number, level: number, name: number, value: Uint8Array, len: number): number;
  setFilter(fd: number, level: number, name: number, value: unknown, len: number): number;
  ioctl(fd: number, request: number, ...rest: unknown[]): number;
  koffi: KoffiModule;
  fprogSize: number;
  raw: RawCalls;
}

let libc: Libc | undefined;

function load(): Libc {
  if (libc) return libc;
  const koffi = loadKoffi();
  const lib = koffi.load('libc.so.6');
  const sockFilter = koffi.struct('sock_filter', { code: 'uint16_t', jt: 'uint8_t', jf: 'uint8_t', k: 'uint32_t' });
  const sockFprog = koffi.struct('sock_fprog', { len: 'uint16_t', filter: koffi.pointer(sockFilter) });
  libc = {
    open: lib.func('int open(const char *path, int flags, int mode)'),
    close: lib.func('int close(int fd)'),
    read: lib.func('long read(int fd, void *buf, unsigned long count)'),
    write: lib.func('long write(int fd, const void *buf, unsigned long count)'),
    socket: lib.func('int socket(int domain, int type, int protocol)'),
    bind: lib.func('int bind(int fd, const void *addr, unsigned int len)'),
    setsockopt: lib.func('int setsockopt(int fd, int level, int name, const void *value, unsigned int len)'),
    setFilter: lib.func('setsockopt', 'int', ['int', 'int', 'int', koffi.pointer(sockFprog), 'unsigned int']),
    ioctl: lib.func('int ioctl(int fd, unsigned long request, ...)'),
    koffi,
    fprogSize: koffi.sizeof(sockFprog),
    raw: {
      socket: lib.func('int socket(int domain, int type, int protocol)'),
      close: lib.func('int close(int fd)'),
      bind: lib.func('int bind(int fd, intptr_t addr, unsigned int len)'),
      connect: lib.func('int connect(int fd, intptr_t addr, unsigned int len)'),
      getsockname: lib.func('int getsockname(int fd, intptr_t addr, intptr_t len)'),
      setsockopt: lib.func('int setsockopt(int fd, int level, int name, intptr_t value, unsigned int len)'),
      getsockopt: lib.func('int getsockopt(int fd, int level, int name, intptr_t value, intptr_t len)'),
      recvmmsg: lib.func('int recvmmsg(int fd, intptr_t vec, unsigned int vlen, int flags, intptr_t timeout)'),
      sendmmsg: lib.func('int sendmmsg(int fd, intptr_t vec, unsigned int vlen, int flags)'),
      recvmsg: lib.func('long recvmsg(int fd, intptr_t msg, int flags)'),
      sendmsg: lib.func('long sendmsg(int fd, intptr_t msg, int flags)'),
      read: lib.func('long read(int fd, intptr_t buf, unsigned long count)'),
      write: lib.func('long write(int fd, intptr_t buf, unsigned long count)'),
      ioctl: lib.func('ioctl', 'int', ['int', 'unsigned long', 'intptr_t']),
      epoll_create1: lib.func('int epoll_create1(int flags)'),
      epoll_ctl: lib.func('int epoll_ctl(int epfd, int op, int fd, intptr_t event)'),
      epoll_wait: lib.func('int epoll_wait(int epfd, intptr_t events, int max, int timeout)'),
      madvise: lib.func('int madvise(intptr_t addr, unsigned long len, int advice)'),
      malloc_trim: lib.func('int malloc_trim(unsigned long pad)'),
      errno: () => koffi.errno(),
    },
  };
  return libc;
}

/** The raw calls (loads the native layer on first use). */
export function rawCalls(): RawCalls {
  return load().raw;
}

/** Memory outside the V8 heap: it never moves, so its addresses can go into structs. */
export interface NativeBlock {
  /** The address of byte 0, as a number (user-space addresses fit in 2^53). */
  readonly base: number;
  readonly size: number;
  readonly u8: Uint8Array;
  readonly view: DataView;
  free(): void;
}

// koffi.alloc uses malloc: a large block comes from mmap, so its pages cost
// memory only once touched. Nothing here zeroes the data area for that reason.
export function allocBlock(size: number): NativeBlock {
  const k = load().koffi;
  let ptr: unknown = k.alloc('uint8_t', size);
  const ab = k.view(ptr, size);
  const u8 = new Uint8Array(ab);
  return {
    base: Number(k.address(ptr)),
    size,
    u8,
    view: new DataView(ab),
    free() {
      if (ptr === null) return;
      k.free(ptr);
      ptr = null;
    },
  };
}

/** Loads the native layer now, so a missing or broken koffi fails at start, not at first use. */
export function nativeVersion(): string {
  return load().koffi.version;
}

export class SyscallError extends Error {
  constructor(
    readonly call: string,
    readonly errno: number,
  ) {
    const [name, text] = util.getSystemErrorMap().get(-errno) ?? [`errno ${errno}`, 'unknown error'];
    super(`${call}: ${name} (${text})`);
    this.code = name;
  }
  readonly code: string;
}

function check(result: number, call: string): number {
  if (result < 0) throw new SyscallError(call, load().koffi.errno());
  return result;
}

export function closeFd(fd: number): void {
  load().close(fd);
}

/**
 * Non-blocking read. Returns the byte count, or -1 when nothing is waiting
 * (EAGAIN). Other errors throw.
 */
export function readFd(fd: number, buf: Uint8Array): number {
  const c = load();
  const n = c.read(fd, buf, buf.length);
  if (n >= 0) return n;
  const errno = c.koffi.errno();
  if (errno === EAGAIN) return -1;
  throw new SyscallError('read', errno);
}

/** Non-blocking write of one packet. Returns false when the queue is full (EAGAIN). */
export function writeFd(fd: number, buf: Uint8Array, length = buf.length): boolean {
  const c = load();
  const n = c.write(fd, buf, length);
  if (n >= 0) return true;
  const errno = c.koffi.errno();
  if (errno === EAGAIN) return false;
  throw new SyscallError('write', errno);
}

/**
 * Creates (or attaches to) a TUN device without packet info headers, so each
 * read is one IP packet. Returns the fd, non-blocking. With vnetHdr
 * (IFF_VNET_HDR) every packet each way is preceded by a virtio-net header.
 */
export function openTunDevice(name: string, vnetHdr = false): number {
  if (Buffer.byteLength(name) >= IFNAMSIZ) throw new Error(`tun device name "${name}" is longer than ${IFNAMSIZ - 1} bytes`);
  const c = load();
  const fd = check(c.open('/dev/net/tun', O_RDWR | O_NONBLOCK | O_CLOEXEC, 0), 'open /dev/net/tun');
  // struct ifreq: char ifr_name[16]; short ifr_flags; padded to 40 bytes.
  const ifr = Buffer.alloc(40);
  ifr.write(name, 0, 'utf8');
  ifr.writeUInt16LE(IFF_TUN | IFF_NO_PI | (vnetHdr ? IFF_VNET_HDR : 0), IFNAMSIZ);
  const r = c.ioctl(fd, TUNSETIFF, 'void *', ifr);
  if (r < 0) {
    const errno = c.koffi.errno();
    c.close(fd);
    throw new SyscallError(`ioctl(TUNSETIFF ${name})`, errno);
  }
  return fd;
}

/** TUNSETOFFLOAD: which offloads (TUN_F_*) the device may hand us; 0, or -errno. */
export function setTunOffload(fd: number, flags: number): number {
  const c = load();
  return c.raw.ioctl(fd, TUNSETOFFLOAD, flags) < 0 ? -c.raw.errno() : 0;
}

/** read(2) into native memory: the byte count, -1 when nothing waits (EAGAIN); other errors throw. */
export function readInto(fd: number, blk: NativeBlock, off: number, max: number): number {
  const r = load().raw;
  const n = r.read(fd, blk.base + off, max);
  if (n >= 0) return n;
  const errno = r.errno();
  if (errno === EAGAIN) return -1;
  throw new SyscallError('read', errno);
}

/** write(2) of one packet from native memory; false when the queue is full (EAGAIN). */
export function writeFrom(fd: number, blk: NativeBlock, off: number, len: number): boolean {
  const r = load().raw;
  if (r.write(fd, blk.base + off, len) >= 0) return true;
  const errno = r.errno();
  if (errno === EAGAIN) return false;
  throw new SyscallError('write', errno);
}

export interface PacketSocketOptions {
  ifindex: number;
  /** Ethertype to bind to (host order), ETH_P_ALL by default. */
  protocol?: number;
  filter?: BpfInstruction[];
  /** Receive all multicast on the interface (PACKET_MR_ALLMULTI). */
  allmulti?: boolean;
  receiveBuffer?: number;
}

/**
 * Opens an AF_PACKET socket on one interface. The filter is attached before
 * the socket is bound, so no unfiltered frame is ever queued.
 */
export function openPacketSocket(opts: PacketSocketOptions): number {
  const c = load();
  // Protocol 0 receives nothing until bind() names one.
  const fd = check(c.socket(AF_PACKET, SOCK_RAW | O_NONBLOCK | O_CLOEXEC, 0), 'socket(AF_PACKET)');
  try {
    if (opts.filter) attachFilter(fd, opts.filter);
    if (opts.receiveBuffer) {
      const v = Buffer.alloc(4);
      v.writeInt32LE(opts.receiveBuffer);
      check(c.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, v, 4), 'setsockopt(SO_RCVBUF)');
    }
    // struct sockaddr_ll: family u16, protocol u16 (network order), ifindex i32, ...
    const sll = Buffer.alloc(20);
    sll.writeUInt16LE(AF_PACKET, 0);
    sll.writeUInt16BE(opts.protocol ?? ETH_P_ALL, 2);
    sll.writeInt32LE(opts.ifindex, 4);
    check(c.bind(fd, sll, sll.length), `bind(AF_PACKET ifindex ${opts.ifindex})`);
    if (opts.allmulti) {
      // struct packet_mreq: ifindex i32, type u16, alen u16, address[8]
      const mreq = Buffer.alloc(16);
      mreq.writeInt32LE(opts.ifindex, 0);
      mreq.writeUInt16LE(PACKET_MR_ALLMULTI, 4);
      check(c.setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq, mreq.length), 'setsockopt(PACKET_ADD_MEMBERSHIP)');
    }
    return fd;
  } catch (err) {
    c.close(fd);
    throw err;
  }
}

export function attachFilter(fd: number, filter: BpfInstruction[]): void {
  const c = load();
  check(c.setFilter(fd, SOL_SOCKET, SO_ATTACH_FILTER, { len: filter.length, filter }, c.fprogSize), 'setsockopt(SO_ATTACH_FILTER)');
}

interface PollEvents {
  readable: boolean;
  disconnect: boolean;
}

export interface ReadableWatch {
  close(): void;
}

// Poll handles must stay strongly referenced: a collected handle stops
// polling without a word.
const liveWatches = new Set<unknown>();

/**
 * Calls onReadable whenever fd is readable, from the event loop (uv_poll), so
 * no libuv threadpool thread is ever parked on a TUN or packet fd.
 */
export function watchReadable(fd: number, onReadable: () => void): ReadableWatch {
  // koffi 3.3 calls back with (status, events) although its typings say
  // (events); accept both so a typings fix upstream cannot silence us.
  const poll = load().koffi.node.poll as unknown as (
    fd: number,
    opts: { readable: boolean },
    cb: (a: number | PollEvents, b?: PollEvents) => void,
  ) => { close(): void };
  const handle = poll(fd, { readable: true }, (a, b) => {
    const ev = typeof a === 'number' ? b : a;
    // A negative status is a poll error; reading then reports the real cause.
    if (typeof a === 'number' && a < 0) onReadable();
    else if (ev && (ev.readable || ev.disconnect)) onReadable();
  });
  liveWatches.add(handle);
  let closed = false;
  return {
    close() {
      if (closed) return;
      closed = true;
      handle.close();
      liveWatches.delete(handle);
    },
  };
}
