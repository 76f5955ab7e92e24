// What the mDNS relay learns from the LANs, in bounded tables with expiry:
//
// - names of unique records in use on our LANs (announced with the cache-flush
//   bit, or probed for): what peers send for those names is withheld here, so a
//   name in use at both sites never looks like a conflict to a host;
// - names being probed right now, and from which addresses: a response from
//   anyone else for such a name is a conflict reply (RFC 6762 s8.1, s9), and
//   stays at home like the probe it answers;
// - host names that the SRV records of relayed services point to: with a
//   service filter, their address records cross too.
import { isResponse, nameKey, type DnsMessage, type Name } from './dns';
import { ExpiringMap } from './expiring-map';
import { isProbe, srvTargets } from './mdns-filter';

/** A name in use at home stays so this long after it was last heard of (RFC 6762 s10 gives 75 minutes to most records). */
export const LOCAL_NAME_MS = 75 * 60_000;
/** Probes come 250 ms apart, three of them, and conflict replies within 250 ms of one (RFC 6762 s8.1). */
export const PROBING_MS = 2000;
/** A host an SRV record points to may cross at least this long, at most the SRV's TTL beyond it. */
const HOST_MIN_MS = 120_000;
const HOST_MAX_MS = 75 * 60_000;
/** Addresses one host probes from: IPv4 and IPv6, a few interfaces. */
const MAX_PROBERS = 8;

export class MdnsNames {
  readonly local: ExpiringMap<true>;
  readonly hosts: ExpiringMap<true>;
  private readonly probing: ExpiringMap<Set<string>>;

  constructor(max: number, now: () => number = Date.now) {
    this.local = new ExpiringMap(max, now);
    this.hosts = new ExpiringMap(max, now);
    this.probing = new ExpiringMap(max, now);
  }

  /** Learns from a message a host on one of our LANs sent from `source`. */
  learnFromLan(m: DnsMessage, source: string): void {
    if (isProbe(m)) {
      for (const r of m.authorities) {
        const key = nameKey(r.name);
        const by = this.probing.get(key) ?? new Set<string>();
        if (by.size < MAX_PROBERS) by.add(source);
        this.probing.set(key, by, PROBING_MS);
        this.local.set(key, true, LOCAL_NAME_MS);
      }
      return;
    }
    if (!isResponse(m)) return;
    for (const r of [...m.answers, ...m.additionals]) {
      if (!r.cacheFlush) continue; // shared records (a service type's PTR) belong to no one
      const key = nameKey(r.name);
      // A goodbye (TTL 0, RFC 6762 s10.1) gives the name up.
      if (r.ttl === 0) this.local.delete(key);
      else this.local.set(key, true, LOCAL_NAME_MS);
    }
  }

  /** A response on our LAN for a name someone else is probing for: the conflict reply to a probe. */
  isConflictReply(m: DnsMessage, source: string): boolean {
    if (!isResponse(m)) return false;
    return m.answers.some((r) => {
      const by = this.probing.get(nameKey(r.name));
      return by !== undefined && !by.has(source);
    });
  }

  /** Remembers the hosts that relayed services' SRV records point to. */
  learnTargets(m: DnsMessage, services: Name[]): void {
    if (!services.length) return;
    for (const t of srvTargets(m, services)) this.hosts.set(nameKey(t.name), true, Math.min(HOST_MAX_MS, HOST_MIN_MS + t.ttl * 1000));
  }

  expire(): void {
    this.local.expire();
    this.hosts.expire();
    this.probing.expire();
  }
}
