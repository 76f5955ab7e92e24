// struct sockaddr_in / sockaddr_in6 as bytes (Linux, both architectures):
//
//   sockaddr_in:  family u16 (host order) | port u16 (network) | addr 4 | zero 8         = 16
//   sockaddr_in6: family u16 | port u16 | flowinfo u32 | addr 16 | scope_id u32 (host)  = 28
//
// Pure functions over a DataView, so the data paths read a datagram's source
// without building a string, and the tests need no native layer. An address
// is held as four 32-bit words of its IPv6 form: an IPv4 address a.b.c.d is
// ::ffff:a.b.c.d (RFC 4291 s2.5.5.2), so one key serves both families.
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from './ip';

export const AF_INET = 2;
export const AF_INET6 = 10;
export const SOCKADDR_IN_BYTES = 16;
export const SOCKADDR_IN6_BYTES = 28;
/** Room for either, 8-aligned. */
export const SOCKADDR_SLOT = 32;

/** An address and port as the data paths keep them: IPv6 words (IPv4 mapped). */
export interface SockAddr {
  family: 4 | 6;
  /** Big-endian 32-bit words of the IPv6 form; w0..w2 = 0, 0, 0xffff for IPv4. */
  w0: number;
  w1: number;
  w2: number;
  w3: number;
  port: number;
  scopeId: number;
}

/** Writes a socket address; returns its length. */
export function writeSockAddr(view: DataView, off: number, a: SockAddr): number {
  if (a.family === 4) {
    view.setUint16(off, AF_INET, true);
    view.setUint16(off + 2, a.port);
    view.setUint32(off + 4, a.w3);
    view.setUint32(off + 8, 0);
    view.setUint32(off + 12, 0);
    return SOCKADDR_IN_BYTES;
  }
  view.setUint16(off, AF_INET6, true);
  view.setUint16(off + 2, a.port);
  view.setUint32(off + 4, 0);
  view.setUint32(off + 8, a.w0);
  view.setUint32(off + 12, a.w1);
  view.setUint32(off + 16, a.w2);
  view.setUint32(off + 20, a.w3);
  view.setUint32(off + 24, a.scopeId, true);
  return SOCKADDR_IN6_BYTES;
}

/** Reads a socket address written by the kernel; undefined for another family. */
export function readSockAddr(view: DataView, off: number): SockAddr | undefined {
  const family = view.getUint16(off, true);
  if (family === AF_INET) {
    return { family: 4, w0: 0, w1: 0, w2: 0xffff, w3: view.getUint32(off + 4), port: view.getUint16(off + 2), scopeId: 0 };
  }
  if (family === AF_INET6) {
    return {
      family: 6,
      w0: view.getUint32(off + 8),
      w1: view.getUint32(off + 12),
      w2: view.getUint32(off + 16),
      w3: view.getUint32(off + 20),
      port: view.getUint16(off + 2),
      scopeId: view.getUint32(off + 24, true),
    };
  }
  return undefined;
}

/** From an IP literal (IPv4, IPv6, or IPv4-mapped IPv6). */
export function sockAddr(address: string, port: number, family: 4 | 6 = address.includes(':') ? 6 : 4): SockAddr {
  const bytes = address.includes(':') ? parseIPv6(address.split('%')[0]) : mapped(parseIPv4(address));
  const w = (i: number) => ((bytes[i] << 24) | (bytes[i + 1] << 16) | (bytes[i + 2] << 8) | bytes[i + 3]) >>> 0;
  return { family, w0: w(0), w1: w(4), w2: w(8), w3: w(12), port, scopeId: 0 };
}

function mapped(v4: Uint8Array): Uint8Array {
  const b = new Uint8Array(16);
  b[10] = b[11] = 0xff;
  b.set(v4, 12);
  return b;
}

export function isMappedWords(w0: number, w1: number, w2: number): boolean {
  return w0 === 0 && w1 === 0 && w2 === 0xffff;
}

/**
 * The address as text, the way the kernel's family shows it: dotted quad for
 * an AF_INET address, RFC 5952 for AF_INET6 (an IPv4 client of a dual-stack
 * socket is ::ffff:a.b.c.d).
 */
export function formatAddress(a: Pick<SockAddr, 'family' | 'w0' | 'w1' | 'w2' | 'w3'>): string {
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, a.w0);
  dv.setUint32(4, a.w1);
  dv.setUint32(8, a.w2);
  dv.setUint32(12, a.w3);
  return a.family === 4 ? formatIPv4(b.subarray(12)) : formatIPv6(b);
}

/**
 * Reads a socket address into `into` (reused by the caller, so a data path
 * reads each datagram's source without allocating). False for another family.
 */
export function readSockAddrInto(view: DataView, off: number, into: SockAddr): boolean {
  const family = view.getUint16(off, true);
  into.port = view.getUint16(off + 2);
  if (family === AF_INET) {
    into.family = 4;
    into.w0 = into.w1 = 0;
    into.w2 = 0xffff;
    into.w3 = view.getUint32(off + 4);
    into.scopeId = 0;
    return true;
  }
  if (family !== AF_INET6) return false;
  into.family = 6;
  into.w0 = view.getUint32(off + 8);
  into.w1 = view.getUint32(off + 12);
  into.w2 = view.getUint32(off + 16);
  into.w3 = view.getUint32(off + 20);
  into.scopeId = view.getUint32(off + 24, true);
  return true;
}

export function emptySockAddr(): SockAddr {
  return { family: 4, w0: 0, w1: 0, w2: 0, w3: 0, port: 0, scopeId: 0 };
}
