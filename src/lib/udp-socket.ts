// UDP sockets opened by the native layer, and datagrams moved in batches:
// recvmmsg(2) into a ring of preallocated slots, sendmmsg(2) from a vector of
// headers pointing at them, so a wakeup moves up to a batch of datagrams in
// one call each way with no Buffer or object per datagram. With batching off
// (--no-offload, or a kernel that refuses the calls) the same structures go
// through recvmsg(2) and sendmsg(2), one datagram per call.
import { allocBlock, rawCalls, SyscallError, type NativeBlock, type RawCalls } from './native';
import { MessageVector, MSG_CMSG_COMPAT, MSG_DONTWAIT, MSG_LEN } from './msghdr';
import { AF_INET, AF_INET6, readSockAddr, SOCKADDR_SLOT, writeSockAddr, type SockAddr } from './sockaddr';

export const EAGAIN = 11;
export const EINTR = 4;
export const ENOBUFS = 105;
export const EINVAL = 22;
export const ENOSYS = 38;
export const ENOPROTOOPT = 92;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SO_ERROR = 4;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_NO_CHECK = 11;
const IPPROTO_IPV6 = 41;
const IPV6_V6ONLY = 26;
const PAGE = 4096; // the smallest page size on both architectures: rounding to it is safe
const MADV_DONTNEED = 4;
/** The largest UDP payload over IPv4 (65535 - 20 - 8); a slot this big never truncates. */
export const MAX_DATAGRAM = 65507;

let raw: RawCalls | undefined;
function sys(): RawCalls {
  return (raw ??= rawCalls());
}

// Room for the arguments of control-path calls (bind, connect, options): the
// event loop is single-threaded, so one scratch area serves them all.
let scratch: NativeBlock | undefined;
function scratchBlock(): NativeBlock {
  return (scratch ??= allocBlock(256));
}

function fail(call: string): never {
  throw new SyscallError(call, sys().errno());
}

/** A non-blocking UDP socket of the family; an IPv6 one is dual-stack unless v6only. */
export function openUdpSocket(family: 4 | 6, opts: { v6only?: boolean } = {}): number {
  const s = sys();
  const fd = s.socket(family === 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) fail(`socket(${family === 6 ? 'AF_INET6' : 'AF_INET'})`);
  if (family === 6 && setIntOption(fd, IPPROTO_IPV6, IPV6_V6ONLY, opts.v6only ? 1 : 0) < 0) {
    const e = s.errno();
    s.close(fd);
    throw new SyscallError('setsockopt(IPV6_V6ONLY)', e);
  }
  return fd;
}

export function closeSocket(fd: number): void {
  sys().close(fd);
}

function withAddress(fd: number, a: SockAddr, call: 'bind' | 'connect'): void {
  const b = scratchBlock();
  const len = writeSockAddr(b.view, 0, a);
  const r = call === 'bind' ? sys().bind(fd, b.base, len) : sys().connect(fd, b.base, len);
  if (r < 0) fail(call);
}

export function bindSocket(fd: number, a: SockAddr): void {
  withAddress(fd, a, 'bind');
}

export function connectSocket(fd: number, a: SockAddr): void {
  withAddress(fd, a, 'connect');
}

/** The socket's own address (after bind or connect). */
export function localAddress(fd: number): SockAddr | undefined {
  const b = scratchBlock();
  b.view.setUint32(SOCKADDR_SLOT, SOCKADDR_SLOT, true);
  if (sys().getsockname(fd, b.base, b.base + SOCKADDR_SLOT) < 0) return undefined;
  return readSockAddr(b.view, 0);
}

/** setsockopt with an int value; 0, or -errno. */
export function setIntOption(fd: number, level: number, name: number, value: number): number {
  const b = scratchBlock();
  b.view.setInt32(64, value, true);
  return sys().setsockopt(fd, level, name, b.base + 64, 4) < 0 ? -sys().errno() : 0;
}

/** getsockopt with an int value; the value, or -errno. */
export function getIntOption(fd: number, level: number, name: number): number {
  const b = scratchBlock();
  b.view.setInt32(72, 4, true);
  if (sys().getsockopt(fd, level, name, b.base + 64, b.base + 72) < 0) return -sys().errno();
  return b.view.getInt32(64, true);
}

/** Bigger socket buffers where the caller may (the kernel caps them at [rw]mem_max). */
export function setBufferSizes(fd: number, bytes: number): void {
  setIntOption(fd, SOL_SOCKET, SO_RCVBUF, bytes);
  setIntOption(fd, SOL_SOCKET, SO_SNDBUF, bytes);
}

/**
 * Receive slots: `count` slots of `slotBytes`, each datagram written
 * `headroom` bytes into its slot (room for a header the caller adds in
 * front, a virtio-net header say), and a MessageVector pointing at them.
 */
export class DatagramRing {
  readonly block: NativeBlock;
  readonly msgs: MessageVector;
  readonly u8: Uint8Array;
  readonly view: DataView;
  private readonly dataAt: number;

  /** Offset of the `extra` bytes after the slots (a work area in the same block). */
  readonly extraOffset: number;

  constructor(
    readonly count: number,
    readonly slotBytes: number,
    readonly headroom = 0,
    extra = 0,
  ) {
    const headers = MessageVector.bytes(count);
    this.dataAt = Math.ceil(headers / 4096) * 4096;
    this.extraOffset = this.dataAt + count * slotBytes;
    this.block = allocBlock(this.extraOffset + extra);
    this.u8 = this.block.u8;
    this.view = this.block.view;
    this.msgs = new MessageVector(this.view, this.block.base, 0, count);
    for (let i = 0; i < count; i++) this.msgs.setIov(i, 0, this.block.base + this.dataOffset(i), slotBytes - headroom);
  }

  /** Offset in u8 of slot i's datagram (after the headroom). */
  dataOffset(i: number): number {
    return this.dataAt + i * this.slotBytes + this.headroom;
  }

  dataAddress(i: number): number {
    return this.block.base + this.dataOffset(i);
  }

  /** Offset in view of the source address of slot i's datagram. */
  nameOffset(i: number): number {
    return this.msgs.nameOffset(i);
  }

  length(i: number): number {
    return this.msgs.length(i);
  }

  /**
   * Receives up to max datagrams into slots first.. . Returns how many, 0 when
   * none was waiting, or -errno (ECONNREFUSED and kin on a connected socket).
   */
  recv(fd: number, first: number, max: number, batched: boolean): number {
    const m = this.msgs;
    const room = this.slotBytes - this.headroom;
    // A caller may have sent from these headers (an echo): make them receive headers again.
    for (let i = first; i < first + max; i++) {
      m.useOwnName(i);
      m.setIovLength(i, 0, room);
    }
    const s = sys();
    if (batched) {
      const n = s.recvmmsg(fd, m.headerAddress(first), max, MSG_DONTWAIT, 0);
      if (n >= 0) return n;
      const e = s.errno();
      return e === EAGAIN ? 0 : -e;
    }
    let got = 0;
    while (got < max) {
      const n = s.recvmsg(fd, m.headerAddress(first + got), MSG_DONTWAIT);
      if (n < 0) {
        const e = s.errno();
        if (e === EAGAIN) break;
        if (got === 0) return -e;
        break; // the error stays pending for the next call
      }
      m.view.setUint32(m.headerOffset(first + got) + MSG_LEN, n, true);
      got++;
    }
    return got;
  }

  /**
   * Gives the slots' pages back to the kernel: after a burst of large
   * datagrams the ring costs memory again only as it is refilled.
   */
  discard(): void {
    discardPages(this.block, this.dataAt, this.extraOffset);
  }

  free(): void {
    this.block.free();
  }
}

/**
 * MADV_DONTNEED on the whole pages of block between the offsets from and to:
 * they read as zeros afterwards and cost memory again only once written.
 * Only for areas whose contents are not needed between two wakeups.
 */
export function discardPages(block: NativeBlock, from: number, to: number): void {
  const start = Math.ceil((block.base + from) / PAGE) * PAGE;
  const end = Math.floor((block.base + to) / PAGE) * PAGE;
  if (end > start) sys().madvise(start, end - start, MADV_DONTNEED);
}

/** What one sendBatch did: reused, so a send allocates nothing. */
export interface SendOutcome {
  sent: number;
  /** Messages the kernel refused or had no room for. */
  failed: number;
  /** The last error (0: none). */
  errno: number;
}

export function newSendOutcome(): SendOutcome {
  return { sent: 0, failed: 0, errno: 0 };
}

/**
 * Sends messages first..first+n-1 of vec. A message the kernel refuses
 * (ECONNREFUSED, EMSGSIZE...) is skipped and counted; a full queue (EAGAIN,
 * ENOBUFS) drops the rest, as the kernel would drop a datagram it has no room for.
 */
export function sendBatch(fd: number, vec: MessageVector, first: number, n: number, batched: boolean, out: SendOutcome): void {
  out.sent = 0;
  out.failed = 0;
  out.errno = 0;
  const s = sys();
  let i = first;
  const end = first + n;
  while (i < end) {
    const r = batched ? s.sendmmsg(fd, vec.headerAddress(i), end - i, 0) : s.sendmsg(fd, vec.headerAddress(i), 0) >= 0 ? 1 : -1;
    if (r > 0) {
      out.sent += r;
      i += r;
      continue;
    }
    const e = s.errno();
    out.errno = e;
    if (e === EINTR) continue;
    if (e === EAGAIN || e === ENOBUFS) {
      out.failed += end - i;
      return;
    }
    out.failed++;
    i++;
  }
}

/**
 * Whether the kernel takes recvmmsg and sendmmsg: both on a fresh socket, with
 * nothing to move. Undefined when it does, else the errno name it refused
 * with. refuse: ask in a way every kernel refuses (EINVAL), the old-kernel
 * stand-in of the tests.
 */
export function probeBatching(refuse = false): string | undefined {
  const s = sys();
  let fd = s.socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) fd = s.socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return errnoName(s.errno());
  const b = scratchBlock();
  const vec = new MessageVector(b.view, b.base, 96, 1);
  vec.setIov(0, 0, b.base + 64, 16);
  const extra = refuse ? MSG_CMSG_COMPAT : 0;
  try {
    if (s.recvmmsg(fd, vec.address, 1, MSG_DONTWAIT | extra, 0) < 0) {
      const e = s.errno();
      if (e !== EAGAIN) return errnoName(e);
    }
    if (s.sendmmsg(fd, vec.address, 0, extra) < 0) return errnoName(s.errno());
    return undefined;
  } finally {
    s.close(fd);
  }
}

export function errnoName(e: number): string {
  return new SyscallError('', e).code;
}
