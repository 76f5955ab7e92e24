// A tunnel's remote as a DNS name: its A and AAAA records (with their TTLs), the
// address the tunnel sends to, and when to ask again. The pure parts (the
// preference rule, the TTL bounds) are apart from the lookups so tests run them.
import dgram from 'node:dgram';
import dns from 'node:dns/promises';
import fs from 'node:fs';

/** Asked again no sooner than this after an answer, however short its TTL... */
export const MIN_TTL_MS = 30_000;
/** ...and no later than this, however long. */
export const MAX_TTL_MS = 3_600_000;
/** A name from /etc/hosts (no TTL) is read again this often. */
export const HOSTS_FILE_TTL_MS = 300_000;
/** After a failed lookup, the next try. */
export const RETRY_MS = 30_000;

export interface Resolution {
  /** Every address the name has, IPv6 first, each family in the server's order. */
  addresses: string[];
  /** When to ask again, bounded to MIN_TTL_MS..MAX_TTL_MS. */
  ttlMs: number;
}

export function boundTtl(seconds: number): number {
  return Math.min(MAX_TTL_MS, Math.max(MIN_TTL_MS, Math.round(seconds * 1000)));
}

/**
 * The address to send to, when a name has both families: the first IPv6 one if this host has
 * a route to it (a site behind carrier-grade NAT for IPv4 is often reachable directly over
 * IPv6), else the first IPv4 one. `v6Routable`: this host has a route to the first IPv6 one.
 */
export function preferredAddress(addresses: string[], v6Routable: boolean): string | undefined {
  const v6 = addresses.filter((a) => a.includes(':'));
  const v4 = addresses.filter((a) => !a.includes(':'));
  if (v6.length && v6Routable) return v6[0];
  return v4[0] ?? v6[0];
}

export interface Lookups {
  resolve4(name: string): Promise<{ address: string; ttl: number }[]>;
  resolve6(name: string): Promise<{ address: string; ttl: number }[]>;
  /** /etc/hosts, when DNS has no answer. */
  lookup(name: string): Promise<{ address: string; family: number }[]>;
}

// A control message waits for the answer at `add`: a server that does not answer must not
// hold it for c-ares' default of 4 tries of 5 s (ctl gives up after 3 s).
const resolver = new dns.Resolver({ timeout: 1000, tries: 2 });

/** The addresses /etc/hosts gives name (read directly: getaddrinfo would ask DNS again, and wait). */
export function hostsFileAddresses(text: string, name: string): { address: string; family: number }[] {
  const out: { address: string; family: number }[] = [];
  for (const line of text.split('\n')) {
    const [address, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
    if (address && names.some((n) => n.toLowerCase().replace(/\.$/, '') === name)) out.push({ address: address.split('%')[0], family: address.includes(':') ? 6 : 4 });
  }
  return out;
}

export const systemLookups: Lookups = {
  resolve4: (name) => resolver.resolve4(name, { ttl: true }),
  resolve6: (name) => resolver.resolve6(name, { ttl: true }),
  lookup: async (name) => hostsFileAddresses(await fs.promises.readFile('/etc/hosts', 'utf8'), name),
};

/** A and AAAA at once; /etc/hosts when DNS knows neither. Throws when nothing answers. */
export async function resolveName(name: string, lookups: Lookups = systemLookups): Promise<Resolution> {
  const [a, aaaa] = await Promise.allSettled([lookups.resolve4(name), lookups.resolve6(name)]);
  const v4 = a.status === 'fulfilled' ? a.value : [];
  const v6 = aaaa.status === 'fulfilled' ? aaaa.value : [];
  if (v4.length || v6.length) {
    const ttl = Math.min(...[...v4, ...v6].map((r) => r.ttl));
    return { addresses: [...v6.map((r) => r.address), ...v4.map((r) => r.address)], ttlMs: boundTtl(ttl) };
  }
  try {
    const hosts = await lookups.lookup(name);
    if (hosts.length) return { addresses: [...hosts.filter((h) => h.family === 6), ...hosts.filter((h) => h.family !== 6)].map((h) => h.address), ttlMs: HOSTS_FILE_TTL_MS };
  } catch {
    // the DNS error below says more
  }
  const err = a.status === 'rejected' ? (a.reason as NodeJS.ErrnoException) : undefined;
  throw new Error(err?.code === 'ENOTFOUND' || err?.code === 'ENODATA' || !err ? `${name} has no A or AAAA record` : `${name}: ${err.code ?? err.message}`);
}

/** Whether the kernel has a route to address (a UDP connect sends nothing). */
export function hasRoute(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
    const done = (ok: boolean) => {
      s.close();
      resolve(ok);
    };
    let settled = false;
    const once = (ok: boolean) => {
      if (!settled) done(ok);
      settled = true;
    };
    s.on('error', () => once(false));
    // The callback has the error too (ENETUNREACH: no route).
    s.connect(9, address, (err?: Error) => once(!err));
  });
}
