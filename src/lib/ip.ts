// IPv4 / IPv6 text <-> bytes, CIDR prefixes, and config validators built on them.
// Shared by every proxy. Pure functions; parse errors name the input and the rule it broke.

import { ConfigError, show } from './config';
import { InputError } from './input-error';

export interface Cidr {
  family: 4 | 6;
  /** Network address, host bits zeroed (4 or 16 bytes). */
  bytes: Uint8Array;
  prefixLength: number;
}

/** Quote untrusted text for an error message without letting it run on forever. */
function quote(s: string): string {
  return JSON.stringify(s.length > 64 ? s.slice(0, 64) + '...' : s);
}

function isHexDigit(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

/**
 * Dotted-quad into out[offset..offset+4). Returns null on success or the reason it failed.
 * Leading zeros are refused: inet_aton() reads "010" as octal 8 while others read 10, and
 * that disagreement has caused real allow-list bypasses (RFC 6943 s3.1.1 warns about it).
 */
function readIPv4(s: string, out: Uint8Array, offset: number): string | null {
  const parts = s.split('.');
  if (parts.length !== 4) return `expected 4 dot-separated decimal octets, got ${parts.length}`;
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    if (p.length === 0 || p.length > 3) return `octet ${i + 1} ${quote(p)} must be 1 to 3 decimal digits`;
    let v = 0;
    for (let j = 0; j < p.length; j++) {
      const c = p.charCodeAt(j);
      if (c < 48 || c > 57) return `octet ${i + 1} ${quote(p)} must be 1 to 3 decimal digits`;
      v = v * 10 + (c - 48);
    }
    if (p.length > 1 && p.charCodeAt(0) === 48) return `octet ${i + 1} ${quote(p)} has a leading zero (ambiguous: octal or decimal)`;
    if (v > 255) return `octet ${i + 1} ${quote(p)} must be 0..255`;
    out[offset + i] = v;
  }
  return null;
}

/**
 * Read 16-bit groups (and a trailing dotted quad when allowed) into words.
 * Returns the reason on failure.
 */
function readGroups(groups: string[], words: number[], allowIPv4Last: boolean): string | null {
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i];
    if (allowIPv4Last && i === groups.length - 1 && g.indexOf('.') !== -1) {
      const v4 = new Uint8Array(4);
      const why = readIPv4(g, v4, 0);
      if (why !== null) return `embedded IPv4 ${quote(g)}: ${why}`;
      words.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      continue;
    }
    if (g.length === 0) return 'empty group (a lone ":" at the start or end, or ":::")';
    if (g.indexOf('.') !== -1) return `embedded IPv4 ${quote(g)} is allowed only in the last 32 bits`;
    if (g.length > 4) return `group ${quote(g)} must be 1 to 4 hex digits`;
    for (let j = 0; j < g.length; j++) {
      if (!isHexDigit(g.charCodeAt(j))) return `group ${quote(g)} must be 1 to 4 hex digits`;
    }
    words.push(parseInt(g, 16));
  }
  return null;
}

/** RFC 4291 s2.2 text forms into out[0..16). Returns null on success or the reason it failed. */
function readIPv6(s: string, out: Uint8Array): string | null {
  if (s.length === 0) return 'empty string';
  if (s.indexOf('%') !== -1) {
    // A zone index (RFC 4007 s11) only makes sense for link-local scope on one host; the
    // places we take addresses (configuration, state file, neighbour table) never need one.
    return 'zone index ("%...") is not allowed here';
  }
  const dbl = s.indexOf('::');
  if (dbl !== -1 && s.indexOf('::', dbl + 1) !== -1) return '"::" may appear only once';
  const head: number[] = [];
  const tail: number[] = [];
  if (dbl === -1) {
    const why = readGroups(s.split(':'), head, true);
    if (why !== null) return why;
    if (head.length !== 8) return `expected 8 groups of 16 bits, got ${head.length}`;
  } else {
    const left = s.slice(0, dbl);
    const right = s.slice(dbl + 2);
    if (left.length > 0) {
      const why = readGroups(left.split(':'), head, false);
      if (why !== null) return why;
    }
    if (right.length > 0) {
      const why = readGroups(right.split(':'), tail, true);
      if (why !== null) return why;
    }
    // "::" stands for one or more zero groups (RFC 4291 s2.2 item 2), so at most 7 explicit.
    if (head.length + tail.length > 7) return `too many groups around "::" (${head.length + tail.length}, at most 7)`;
  }
  out.fill(0);
  for (let i = 0; i < head.length; i++) {
    out[i * 2] = head[i] >> 8;
    out[i * 2 + 1] = head[i] & 0xff;
  }
  const base = 8 - tail.length;
  for (let i = 0; i < tail.length; i++) {
    out[(base + i) * 2] = tail[i] >> 8;
    out[(base + i) * 2 + 1] = tail[i] & 0xff;
  }
  return null;
}

export function parseIPv4(s: string): Uint8Array {
  const out = new Uint8Array(4);
  const why = typeof s === 'string' ? readIPv4(s, out, 0) : `expected a string, got ${typeof s}`;
  if (why !== null) throw new InputError(`${typeof s === 'string' ? quote(s) : 'value'} is not an IPv4 address: ${why}`);
  return out;
}

export function parseIPv6(s: string): Uint8Array {
  const out = new Uint8Array(16);
  const why = typeof s === 'string' ? readIPv6(s, out) : `expected a string, got ${typeof s}`;
  if (why !== null) throw new InputError(`${typeof s === 'string' ? quote(s) : 'value'} is not an IPv6 address: ${why}`);
  return out;
}

export function isIPv4(s: string): boolean {
  return typeof s === 'string' && readIPv4(s, new Uint8Array(4), 0) === null;
}

export function isIPv6(s: string): boolean {
  return typeof s === 'string' && readIPv6(s, new Uint8Array(16)) === null;
}

export function formatIPv4(bytes: Uint8Array): string {
  if (bytes.length !== 4) throw new Error(`IPv4 address must be 4 bytes, got ${bytes.length}`);
  return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
}

/**
 * RFC 5952 canonical text: lowercase, no leading zeros (s4.1), the longest run of two or
 * more zero groups compressed, the first one on a tie (s4.2.1-4.2.3). IPv4-mapped
 * addresses keep their dotted tail (s5), as inet_ntop does. Runs once per learned address
 * per frame, so it avoids regexes and intermediate arrays.
 */
export function formatIPv6(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new Error(`IPv6 address must be 16 bytes, got ${bytes.length}`);
  if (isIPv4Mapped(bytes)) return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  let bestStart = -1;
  let bestLen = 1; // a single zero group is never compressed (s4.2.2)
  let runStart = -1;
  for (let i = 0; i < 8; i++) {
    if (bytes[i * 2] === 0 && bytes[i * 2 + 1] === 0) {
      if (runStart < 0) runStart = i;
      if (i - runStart + 1 > bestLen) {
        bestStart = runStart;
        bestLen = i - runStart + 1;
      }
    } else {
      runStart = -1;
    }
  }
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      s += '::';
      i += bestLen - 1;
      continue;
    }
    if (s.length > 0 && s.charCodeAt(s.length - 1) !== 58) s += ':';
    s += ((bytes[i * 2] << 8) | bytes[i * 2 + 1]).toString(16);
  }
  return s;
}

/** ::ffff:0:0/96 (RFC 4291 s2.5.5.2). */
export function isIPv4Mapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

function maskHostBits(bytes: Uint8Array, prefixLength: number): void {
  for (let i = 0; i < bytes.length; i++) {
    const bits = prefixLength - i * 8;
    if (bits >= 8) continue;
    bytes[i] &= bits <= 0 ? 0 : (0xff << (8 - bits)) & 0xff;
  }
}

/**
 * "2001:db8::/32" or "192.0.2.0/24". Host bits are zeroed rather than refused, so an
 * interface address with its prefix length ("2001:db8::5/64") names its network.
 */
export function parseCidr(s: string): Cidr {
  if (typeof s !== 'string') throw new InputError(`CIDR prefix must be a string, got ${typeof s}`);
  const slash = s.indexOf('/');
  if (slash === -1) throw new InputError(`${quote(s)} has no prefix length (expected address/length)`);
  const addr = s.slice(0, slash);
  const len = s.slice(slash + 1);
  const family: 4 | 6 = addr.indexOf(':') !== -1 ? 6 : 4;
  const max = family === 6 ? 128 : 32;
  const bytes = new Uint8Array(family === 6 ? 16 : 4);
  const why = family === 6 ? readIPv6(addr, bytes) : readIPv4(addr, bytes, 0);
  if (why !== null) throw new InputError(`${quote(s)}: ${quote(addr)} is not an IPv${family} address: ${why}`);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(len) || Number(len) > max) {
    throw new InputError(`${quote(s)} prefix length must be 0..${max}`);
  }
  const prefixLength = Number(len);
  maskHostBits(bytes, prefixLength);
  return { family, bytes, prefixLength };
}

export function formatCidr(c: Cidr): string {
  return `${c.family === 6 ? formatIPv6(c.bytes) : formatIPv4(c.bytes)}/${c.prefixLength}`;
}

/** True when bytes (an address of the same family) lies inside the prefix. */
export function cidrContains(c: Cidr, bytes: Uint8Array): boolean {
  if (bytes.length !== c.bytes.length) return false;
  const full = c.prefixLength >> 3;
  for (let i = 0; i < full; i++) if (bytes[i] !== c.bytes[i]) return false;
  const rest = c.prefixLength & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (bytes[full] & mask) === c.bytes[full];
}

// Config validators: take an unknown JSON value, return the canonical form, throw ConfigError.

/** Returns the canonical dotted quad. */
export function ipv4(v: unknown, field: string): string {
  if (typeof v !== 'string') throw new ConfigError(field, `expected an IPv4 address string, got ${show(v)}`);
  const out = new Uint8Array(4);
  const why = readIPv4(v, out, 0);
  if (why !== null) throw new ConfigError(field, `${quote(v)} is not an IPv4 address: ${why}`);
  return formatIPv4(out);
}

/** Returns the RFC 5952 canonical text. */
export function ipv6(v: unknown, field: string): string {
  if (typeof v !== 'string') throw new ConfigError(field, `expected an IPv6 address string, got ${show(v)}`);
  const out = new Uint8Array(16);
  const why = readIPv6(v, out);
  if (why !== null) throw new ConfigError(field, `${quote(v)} is not an IPv6 address: ${why}`);
  return formatIPv6(out);
}

export function cidr(v: unknown, field: string): Cidr {
  if (typeof v !== 'string') throw new ConfigError(field, `expected a CIDR prefix string like "2001:db8::/64", got ${show(v)}`);
  try {
    return parseCidr(v);
  } catch (err) {
    throw new ConfigError(field, (err as Error).message);
  }
}
