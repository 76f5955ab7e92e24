// The original's control message ({ op, tunnel: [{ name, tunnelIP, netmask,
// mtu, remoteServer }] }) is our control body, so its client keeps working.
// Every field is validated here; a bad one is a ControlError the daemon sends
// back as an error reply (the original crashed on a string MTU or bad JSON).
import { array, ConfigError, show } from '../lib/config';
import { formatCidr, formatIPv4, ipv4, ipv6, parseCidr, parseIPv4, parseIPv6 } from '../lib/ip';

export interface TunnelSpec {
  name: string;
  /** Canonical dotted quad. */
  tunnelIP: string;
  /** Canonical dotted quad. */
  netmask: string;
  mtu: number;
  /** An IPv4 or IPv6 literal (canonical), or a DNS name (lower case, no final dot). */
  remoteServer: string;
  /** Canonical IPv4 and IPv6 CIDR prefixes routed into the device. */
  routes: string[];
  /** The tunnel's IPv6 address with its prefix length ("fd00:1::1/64"); absent: none. */
  tunnelIP6?: string;
}

export type ControlRequest = { op: 'add'; tunnels: TunnelSpec[] } | { op: 'del'; names: string[] } | { op: 'list' };

export const DEFAULT_NETMASK = '255.255.255.252'; // the original client's default
export const DEFAULT_MTU = 1500;
export const MIN_MTU = 68; // RFC 791: every IPv4 host must take 68-byte datagrams
export const MAX_MTU = 65000; // room for our header inside a 65507-byte UDP payload
export const MAX_TUNNELS_PER_MESSAGE = 64;
export const MAX_ROUTES = 64;
const ALLOWED_KEYS = ['name', 'tunnelIP', 'netmask', 'mtu', 'remoteServer', 'routes', 'route', 'tunnelIP6'];
/** RFC 8200 s5: every IPv6 link carries 1280 bytes; below that the kernel turns IPv6 off on the device. */
export const MIN_MTU_IPV6 = 1280;

/**
 * Linux interface names: 1..15 bytes; we allow only a safe charset, and the first character
 * must be a letter or digit: a name starting with '-' reads as an option to `ip` and to our own
 * ctl, and "." or ".." as a directory under /sys/class/net.
 */
export const TUNNEL_NAME_RULE = '1..15 of A-Z a-z 0-9 _ . -, starting with a letter or digit';

export function tunnelName(v: unknown, field: string): string {
  if (typeof v !== 'string') throw new ConfigError(field, `expected a string, got ${show(v)}`);
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/.test(v)) {
    throw new ConfigError(field, `${show(v.slice(0, 32))} is not a valid tunnel name (${TUNNEL_NAME_RULE})`);
  }
  return v;
}

/**
 * The name of a tunnel that may exist already: what `add` took before the first character had
 * to be a letter or digit. `del` and the state file take these, so a tunnel made then can still
 * be restored and deleted.
 */
export function existingTunnelName(v: unknown, field: string): string {
  if (typeof v === 'string' && /^[A-Za-z0-9_.-]{1,15}$/.test(v) && v !== '.' && v !== '..') return v;
  return tunnelName(v, field);
}

/** "255.255.255.0", "24" or "/24" -> the dotted mask. */
export function netmask(v: unknown, field: string): string {
  const len = prefixLengthOf(v, field);
  return formatIPv4(maskBytes(len));
}

export function prefixLengthOf(v: unknown, field: string): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 32) return v;
  if (typeof v !== 'string') throw new ConfigError(field, `expected a netmask like "255.255.255.0" or "24", got ${show(v)}`);
  const m = /^\/?([0-9]{1,2})$/.exec(v);
  if (m && Number(m[1]) >= 1 && Number(m[1]) <= 32) return Number(m[1]);
  let bytes: Uint8Array;
  try {
    bytes = parseIPv4(v);
  } catch {
    throw new ConfigError(field, `${show(v.slice(0, 32))} is not a netmask`);
  }
  const n = ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
  const len = 32 - Math.log2((~n >>> 0) + 1);
  if (!Number.isInteger(len) || len < 1) throw new ConfigError(field, `${show(v)} is not a contiguous netmask`);
  return len;
}

function maskBytes(len: number): Uint8Array {
  const n = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

/** The original client sends the MTU as a number; its README shows a string. Both, if digits. */
export function mtu(v: unknown, field: string): number {
  const n = typeof v === 'string' && /^[0-9]{1,6}$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n)) throw new ConfigError(field, `expected an integer MTU, got ${show(v)}`);
  if (n < MIN_MTU || n > MAX_MTU) throw new ConfigError(field, `${n} is out of range ${MIN_MTU}..${MAX_MTU}`);
  return n;
}

/** A unicast IPv4 address: not 0.0.0.0/8, multicast or broadcast. */
export function unicastIPv4(v: unknown, field: string): string {
  const s = ipv4(v, field);
  const first = Number(s.split('.')[0]);
  if (first === 0 || first >= 224) throw new ConfigError(field, `${s} is not a unicast address`);
  return s;
}

/** A unicast IPv6 address: not ::, ::1, multicast, link-local (it needs a scope) or IPv4-mapped. */
export function unicastIPv6(v: unknown, field: string): string {
  const s = ipv6(v, field);
  const b = parseIPv6(s);
  const zero = b.every((x) => x === 0);
  if (zero || s === '::1' || b[0] === 0xff || (b[0] === 0xfe && (b[1] & 0xc0) === 0x80) || s.startsWith('::ffff:')) {
    throw new ConfigError(field, `${s} is not a global or unique-local unicast address`);
  }
  return s;
}

// RFC 1123 s2.1 host names: labels of letters, digits and hyphens, 1..63 each, 253 in all.
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/**
 * The remote daemon: an IPv4 or IPv6 literal, or a DNS name resolved by the daemon (and again
 * on its TTL). A name whose last label is all digits reads as a mistyped IPv4 address.
 */
export function remoteHost(v: unknown, field: string): string {
  if (typeof v !== 'string') throw new ConfigError(field, `expected an IPv4 or IPv6 address or a DNS name, got ${show(v)}`);
  if (v.includes(':')) return unicastIPv6(v.replace(/^\[(.*)\]$/, '$1'), field);
  const name = v.toLowerCase().replace(/\.$/, '');
  if (/^[0-9.]+$/.test(name) || /\.[0-9]+$/.test(name) || !HOST_NAME.test(name)) {
    if (/^[0-9.]+$/.test(v)) return unicastIPv4(v, field);
    throw new ConfigError(field, `${show(v.slice(0, 64))} is neither an IP address nor a DNS name`);
  }
  return name;
}

/** True when the remote is a DNS name (the daemon resolves it), not an address literal. */
export function isHostName(remote: string): boolean {
  return !remote.includes(':') && !/^[0-9.]+$/.test(remote);
}

export function route(v: unknown, field: string): string {
  if (typeof v !== 'string') throw new ConfigError(field, `expected a CIDR like "192.168.2.0/24" or "fd00:2::/64", got ${show(v)}`);
  let c;
  try {
    c = parseCidr(v.includes('/') ? v : `${v}/${v.includes(':') ? 128 : 32}`);
  } catch (err) {
    throw new ConfigError(field, (err as Error).message);
  }
  return formatCidr(c);
}

/** "fd00:1::1/64": the address as given (host bits kept), canonical, with its prefix length. */
export function tunnelAddress6(v: unknown, field: string): string {
  if (typeof v !== 'string' || !v.includes('/')) throw new ConfigError(field, `expected an IPv6 address with its prefix length like "fd00:1::1/64", got ${show(v)}`);
  const [addr, len] = v.split('/', 2);
  const a = unicastIPv6(addr, field);
  if (!/^([1-9][0-9]?|1[01][0-9]|12[0-8])$/.test(len)) throw new ConfigError(field, `prefix length ${show(len)} is out of range 1..128`);
  return `${a}/${len}`;
}

export function tunnelSpec(v: unknown, field: string, name: typeof tunnelName = tunnelName): TunnelSpec {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(field, `expected an object, got ${show(v)}`);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!ALLOWED_KEYS.includes(k)) throw new ConfigError(`${field}.${k}`, 'unknown key');
  const need = (k: string) => {
    if (o[k] === undefined || o[k] === null) throw new ConfigError(`${field}.${k}`, 'is missing');
    return o[k];
  };
  const routes = o.routes ?? o.route;
  const spec: TunnelSpec = {
    name: name(need('name'), `${field}.name`),
    tunnelIP: unicastIPv4(need('tunnelIP'), `${field}.tunnelIP`),
    netmask: o.netmask === undefined ? DEFAULT_NETMASK : netmask(o.netmask, `${field}.netmask`),
    mtu: o.mtu === undefined ? DEFAULT_MTU : mtu(o.mtu, `${field}.mtu`),
    remoteServer: remoteHost(need('remoteServer'), `${field}.remoteServer`),
    routes: routes === undefined ? [] : [...new Set(array(routes, `${field}.routes`, route, { max: MAX_ROUTES }))],
  };
  if (o.tunnelIP6 !== undefined && o.tunnelIP6 !== null) spec.tunnelIP6 = tunnelAddress6(o.tunnelIP6, `${field}.tunnelIP6`);
  const v6 = spec.tunnelIP6 !== undefined || spec.routes.some((r) => r.includes(':'));
  if (v6 && spec.mtu < MIN_MTU_IPV6) throw new ConfigError(`${field}.mtu`, `${spec.mtu} is below ${MIN_MTU_IPV6}, the least an IPv6 link carries (RFC 8200); the tunnel has IPv6 (tunnelIP6 or an IPv6 route)`);
  return spec;
}

/** Parses and validates one control body (JSON text). Throws ConfigError naming the field. */
export function decodeControlBody(text: string): ControlRequest {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    throw new ConfigError('body', 'is not valid JSON');
  }
  if (typeof m !== 'object' || m === null || Array.isArray(m)) throw new ConfigError('body', 'expected a JSON object');
  const o = m as Record<string, unknown>;
  const op = o.op;
  if (op === 'list') return { op: 'list' };
  if (op !== 'add' && op !== 'del' && op !== 'delete') {
    throw new ConfigError('op', `expected "add", "del", "delete" or "list", got ${show(op)}`);
  }
  const list = array(o.tunnel, 'tunnel', (x, f) => x, { min: 1, max: MAX_TUNNELS_PER_MESSAGE });
  if (op === 'add') return { op: 'add', tunnels: list.map((t, i) => tunnelSpec(t, `tunnel[${i}]`)) };
  // del needs only the name; the original client sends every field anyway.
  return {
    op: 'del',
    names: list.map((t, i) => {
      if (typeof t !== 'object' || t === null) throw new ConfigError(`tunnel[${i}]`, `expected an object, got ${show(t)}`);
      return existingTunnelName((t as Record<string, unknown>).name, `tunnel[${i}].name`);
    }),
  };
}

/** The body our ctl sends: the original's shape, plus routes. */
export function encodeControlBody(op: 'add' | 'del' | 'list', spec?: Partial<TunnelSpec>): string {
  if (op === 'list') return JSON.stringify({ op });
  const t: Record<string, unknown> = { ...spec };
  if (!t.routes || !(t.routes as string[]).length) delete t.routes;
  if (t.tunnelIP6 === undefined) delete t.tunnelIP6;
  return JSON.stringify({ op, tunnel: [t] });
}

export function prefixLength(mask: string): number {
  return prefixLengthOf(mask, 'netmask');
}

export function sameSpec(a: TunnelSpec, b: TunnelSpec): boolean {
  return (
    a.name === b.name &&
    a.tunnelIP === b.tunnelIP &&
    a.netmask === b.netmask &&
    a.mtu === b.mtu &&
    a.remoteServer === b.remoteServer &&
    a.routes.join() === b.routes.join() &&
    a.tunnelIP6 === b.tunnelIP6
  );
}
