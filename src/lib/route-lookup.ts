// Which interface a peer's datagrams arrive on, as far as the main routing
// table says (the route back to it; UniFi routes symmetrically): read from
// /proc/net/route and /proc/net/ipv6_route, no process started. Policy
// routing (ip rule) is not followed: the answer is the main table's.
import fs from 'node:fs';
import { parseIPv4, parseIPv6 } from './ip';

export interface Route {
  family: 4 | 6;
  /** Network address bytes. */
  dest: Uint8Array;
  prefixLength: number;
  iface: string;
  metric: number;
}

const RTF_UP = 0x1;

/** /proc/net/route: addresses and masks as little-endian hex words. */
export function parseRoutes4(text: string): Route[] {
  const out: Route[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || !(parseInt(f[3], 16) & RTF_UP)) continue;
    const le = (hex: string) => {
      const n = parseInt(hex, 16);
      return new Uint8Array([n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24]);
    };
    const mask = le(f[7]);
    let prefixLength = 0;
    for (const b of mask) for (let bit = 7; bit >= 0; bit--) if (b & (1 << bit)) prefixLength++;
    out.push({ family: 4, dest: le(f[1]), prefixLength, iface: f[0], metric: Number(f[6]) });
  }
  return out;
}

/** /proc/net/ipv6_route: dest, its prefix length, source, its length, next hop, metric, refs, use, flags, interface. */
export function parseRoutes6(text: string): Route[] {
  const out: Route[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || !(parseInt(f[8], 16) & RTF_UP) || f[9] === 'lo') continue;
    out.push({ family: 6, dest: Buffer.from(f[0], 'hex'), prefixLength: parseInt(f[1], 16), iface: f[9], metric: parseInt(f[5], 16) });
  }
  return out;
}

function inPrefix(r: Route, a: Uint8Array): boolean {
  for (let bit = 0; bit < r.prefixLength; bit++) {
    const m = 0x80 >> bit % 8;
    if ((a[bit >> 3] & m) !== (r.dest[bit >> 3] & m)) return false;
  }
  return true;
}

/** The longest matching route's interface (lowest metric among equals); undefined: no route. */
export function routeInterface(routes: Route[], address: string): string | undefined {
  const six = address.includes(':');
  const a = six ? parseIPv6(address) : parseIPv4(address);
  let best: Route | undefined;
  for (const r of routes) {
    if (r.family !== (six ? 6 : 4) || !inPrefix(r, a)) continue;
    if (!best || r.prefixLength > best.prefixLength || (r.prefixLength === best.prefixLength && r.metric < best.metric)) best = r;
  }
  return best?.iface;
}

export function systemRoutes(): Route[] {
  const read = (p: string) => {
    try {
      return fs.readFileSync(p, 'utf8');
    } catch {
      return '';
    }
  };
  return [...parseRoutes4(read('/proc/net/route')), ...parseRoutes6(read('/proc/net/ipv6_route'))];
}
