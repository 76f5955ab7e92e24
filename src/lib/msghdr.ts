// Arrays of struct mmsghdr for recvmmsg(2) and sendmmsg(2), laid out by hand in
// one region of a NativeBlock. LP64 Linux (x86_64 and aarch64 alike):
//
//   struct iovec   { void *iov_base; size_t iov_len; }                       16 bytes
//   struct msghdr  { void *msg_name; socklen_t msg_namelen; (pad 4)
//                    struct iovec *msg_iov; size_t msg_iovlen;
//                    void *msg_control; size_t msg_controllen; int msg_flags; (pad 4) } 56
//   struct mmsghdr { struct msghdr msg_hdr; unsigned int msg_len; (pad 4) }    64
//
// A region holds [mmsghdr x count][iovec x count x iovs][sockaddr slot x count];
// every pointer field is written once here, so a call only updates lengths.
// Pure: the view and base address may be any ArrayBuffer and number (tests).
import { SOCKADDR_SLOT } from './sockaddr';

export const IOVEC_BYTES = 16;
export const MSGHDR_BYTES = 56;
export const MMSGHDR_BYTES = 64;
export const MSG_NAME = 0;
export const MSG_NAMELEN = 8;
export const MSG_IOV = 16;
export const MSG_IOVLEN = 24;
export const MSG_CONTROL = 32;
export const MSG_CONTROLLEN = 40;
export const MSG_FLAGS = 48;
export const MSG_LEN = 56;

// recvmsg(2) flags and msg_flags bits (<bits/socket.h>; the same on both).
export const MSG_TRUNC = 0x20;
export const MSG_DONTWAIT = 0x40;
/** Refused by recvmmsg and sendmmsg from user space with EINVAL (net/socket.c). */
export const MSG_CMSG_COMPAT = 0x80000000;

const TWO32 = 2 ** 32;

/** A 64-bit little-endian pointer (both architectures are little-endian). */
export function writePointer(view: DataView, off: number, addr: number): void {
  view.setUint32(off, addr % TWO32, true);
  view.setUint32(off + 4, Math.floor(addr / TWO32), true);
}

export function readPointer(view: DataView, off: number): number {
  return view.getUint32(off + 4, true) * TWO32 + view.getUint32(off, true);
}

export class MessageVector {
  readonly count: number;
  readonly iovs: number;
  /** Address of mmsghdr 0: what recvmmsg and sendmmsg take. */
  readonly address: number;
  private readonly iovAt: number;
  private readonly nameAt: number;

  /** Bytes a region of `count` messages with `iovs` iovecs each needs. */
  static bytes(count: number, iovs = 1): number {
    return count * (MMSGHDR_BYTES + iovs * IOVEC_BYTES + SOCKADDR_SLOT);
  }

  constructor(
    readonly view: DataView,
    readonly base: number,
    readonly at: number,
    count: number,
    iovs = 1,
  ) {
    this.count = count;
    this.iovs = iovs;
    this.address = base + at;
    this.iovAt = at + count * MMSGHDR_BYTES;
    this.nameAt = this.iovAt + count * iovs * IOVEC_BYTES;
    for (let i = 0; i < count; i++) {
      const h = at + i * MMSGHDR_BYTES;
      for (let k = 0; k < MMSGHDR_BYTES; k += 4) view.setUint32(h + k, 0, true);
      writePointer(view, h + MSG_NAME, base + this.nameOffset(i));
      view.setUint32(h + MSG_NAMELEN, SOCKADDR_SLOT, true);
      writePointer(view, h + MSG_IOV, base + this.iovOffset(i, 0));
      writePointer(view, h + MSG_IOVLEN, 1);
    }
  }

  /** Offset (in the view) of message i's mmsghdr. */
  headerOffset(i: number): number {
    return this.at + i * MMSGHDR_BYTES;
  }

  headerAddress(i: number): number {
    return this.base + this.at + i * MMSGHDR_BYTES;
  }

  iovOffset(i: number, j: number): number {
    return this.iovAt + (i * this.iovs + j) * IOVEC_BYTES;
  }

  /** Offset of message i's own sockaddr slot. */
  nameOffset(i: number): number {
    return this.nameAt + i * SOCKADDR_SLOT;
  }

  setIov(i: number, j: number, addr: number, len: number): void {
    const o = this.iovOffset(i, j);
    writePointer(this.view, o, addr);
    writePointer(this.view, o + 8, len);
  }

  /** Only the length of iovec j of message i. */
  setIovLength(i: number, j: number, len: number): void {
    writePointer(this.view, this.iovOffset(i, j) + 8, len);
  }

  setIovCount(i: number, n: number): void {
    writePointer(this.view, this.headerOffset(i) + MSG_IOVLEN, n);
  }

  /** msg_name -> message i's own slot, with this length (the slot's size before a receive). */
  useOwnName(i: number, len = SOCKADDR_SLOT): void {
    const h = this.headerOffset(i);
    writePointer(this.view, h + MSG_NAME, this.base + this.nameOffset(i));
    this.view.setUint32(h + MSG_NAMELEN, len, true);
  }

  /** msg_name -> an address held elsewhere (a rule's upstream, say). */
  useName(i: number, addr: number, len: number): void {
    const h = this.headerOffset(i);
    writePointer(this.view, h + MSG_NAME, addr);
    this.view.setUint32(h + MSG_NAMELEN, len, true);
  }

  /** No address: the socket is connected. */
  noName(i: number): void {
    const h = this.headerOffset(i);
    writePointer(this.view, h + MSG_NAME, 0);
    this.view.setUint32(h + MSG_NAMELEN, 0, true);
  }

  nameLength(i: number): number {
    return this.view.getUint32(this.headerOffset(i) + MSG_NAMELEN, true);
  }

  setControl(i: number, addr: number, len: number): void {
    const h = this.headerOffset(i);
    writePointer(this.view, h + MSG_CONTROL, addr);
    writePointer(this.view, h + MSG_CONTROLLEN, len);
  }

  /** msg_len: bytes received or sent for message i. */
  length(i: number): number {
    return this.view.getUint32(this.headerOffset(i) + MSG_LEN, true);
  }

  setLength(i: number, n: number): void {
    this.view.setUint32(this.headerOffset(i) + MSG_LEN, n, true);
  }

  /** msg_flags after a receive (MSG_TRUNC: the datagram was longer than the buffer). */
  flags(i: number): number {
    return this.view.getInt32(this.headerOffset(i) + MSG_FLAGS, true);
  }
}
