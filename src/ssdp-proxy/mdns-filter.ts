// What of an mDNS message may cross to another site, and in what form. Pure:
// a message and the tables it is judged against in, a verdict out.
//
// - Only standard queries and responses without error cross (RFC 6762 s18.3,
//   s18.11: others are silently ignored by every responder anyway).
// - Probes (queries with proposed records in the authority section, RFC 6762
//   s8.1) never cross: a name in use at both sites must not make either host
//   rename itself. Their conflict replies are judged by the caller (mdns-names.ts),
//   which knows who probed.
// - The unicast-response bit of every question is cleared (RFC 6762 s5.4), so
//   answers are multicast where the relay hears them. Cache-flush bits and
//   TTLs stay as they are.
// - Address records the other site cannot use are removed: A in
//   169.254.0.0/16 (RFC 3927), AAAA in fe80::/10 (RFC 4291 s2.5.6). A name
//   that had address records and is left with none loses all its records.
// - With a service filter, only names of those services cross: the service
//   type (browsing), its instances and subtypes, the host names their SRV
//   records point to, and the service enumeration (RFC 6763 s9) as far as it
//   names those services.
// - Records for names in use on our own LANs are withheld from the responses
//   peers send (`localNames`): a relayed announcement of the other site's
//   "printer.local" would otherwise be a conflict here (RFC 6762 s9). The known
//   answers of a query are no claim, and stay: they are often our own records,
//   cached at the other site.
import { parseIPv4, parseIPv6 } from '../lib/ip';
import { isResponse, nameKey, nameOf, opcode, rcode, TYPE, type DnsMessage, type DnsRecord, type Name } from './dns';

/** Why a message was not relayed, or records were removed from it: the counter names. */
export type MdnsDrop = 'opcode' | 'rcode' | 'probe' | 'conflict-reply' | 'filtered' | 'link-local' | 'conflict';

export interface NameSet {
  has(key: string): boolean;
}

export interface MdnsFilterContext {
  /** The service types relayed, as names ("_airplay._tcp"); empty: every name. */
  services: Name[];
  /** Host names the SRV records of relayed services point to (nameKey); filled by `learnTargets`. */
  hosts: NameSet;
  /** Names of unique records in use on our LANs (nameKey): withheld when given. */
  localNames?: NameSet;
}

export type MdnsVerdict =
  | { relay: false; reason: MdnsDrop }
  | {
      relay: true;
      message: DnsMessage;
      /** False: the message crosses as it came (relay its original bytes). */
      changed: boolean;
      /** Records removed, by reason. */
      removed: Partial<Record<MdnsDrop, number>>;
    };

const LOCAL = 'local';
const ENUMERATION = nameKey(nameOf('_services._dns-sd._udp.local'));

/** "_airplay._tcp" -> a service type the filter takes; throws a message naming the rule. */
export function parseServiceType(text: string): Name {
  if (!/^_[A-Za-z0-9](?:[A-Za-z0-9-]{0,13}[A-Za-z0-9])?\._(tcp|udp)$/i.test(text)) {
    throw new Error(`"${text}" is not a service type like _airplay._tcp (RFC 6763 s7: _name._tcp or _name._udp, name up to 15 letters, digits and hyphens)`);
  }
  return nameOf(text);
}

/** The name is the type, an instance or a subtype of one of the services (".local" only). */
function ofService(name: Name, services: Name[]): boolean {
  const lower = nameKey(name).split('\u0000');
  if (lower[lower.length - 1] !== LOCAL) return false;
  return services.some((svc) => {
    if (lower.length < svc.length + 1) return false;
    const tail = lower.slice(lower.length - 1 - svc.length, lower.length - 1);
    return tail.join('\u0000') === nameKey(svc);
  });
}

const isServiceType = (name: Name, services: Name[]): boolean =>
  ofService(name, services) && services.some((svc) => name.length === svc.length + 1);

function nameAllowed(name: Name, ctx: MdnsFilterContext): boolean {
  return !ctx.services.length || ofService(name, ctx.services) || ctx.hosts.has(nameKey(name));
}

function recordAllowed(r: DnsRecord, ctx: MdnsFilterContext): boolean {
  if (!ctx.services.length) return true;
  // The enumeration lists every type on the LAN; only ours cross.
  if (nameKey(r.name) === ENUMERATION) return r.data.kind === 'name' && isServiceType(r.data.name, ctx.services);
  return nameAllowed(r.name, ctx);
}

/** The targets of the SRV records of relayed services in a message, with their TTLs: the host names that may cross too. */
export function srvTargets(m: DnsMessage, services: Name[]): { name: Name; ttl: number }[] {
  const out: { name: Name; ttl: number }[] = [];
  for (const r of [...m.answers, ...m.authorities, ...m.additionals]) {
    if (r.data.kind === 'srv' && ofService(r.name, services)) out.push({ name: r.data.target, ttl: r.ttl });
  }
  return out;
}

export function isLinkLocal(r: DnsRecord): boolean {
  if (r.data.kind !== 'address') return false;
  try {
    if (r.type === TYPE.A) {
      const b = parseIPv4(r.data.address);
      return b[0] === 169 && b[1] === 254;
    }
    const b = parseIPv6(r.data.address);
    return b[0] === 0xfe && (b[1] & 0xc0) === 0x80;
  } catch {
    return false;
  }
}

export const isProbe = (m: DnsMessage): boolean => !isResponse(m) && m.authorities.length > 0;

export function filterForRelay(m: DnsMessage, ctx: MdnsFilterContext): MdnsVerdict {
  if (opcode(m) !== 0) return { relay: false, reason: 'opcode' };
  if (rcode(m) !== 0) return { relay: false, reason: 'rcode' };
  if (isProbe(m)) return { relay: false, reason: 'probe' };
  const removed: Partial<Record<MdnsDrop, number>> = {};
  const remove = (why: MdnsDrop) => void (removed[why] = (removed[why] ?? 0) + 1);
  let changed = false;

  const questions = m.questions.filter((q) => {
    if (ctx.services.length && !nameAllowed(q.name, ctx) && nameKey(q.name) !== ENUMERATION) return remove('filtered'), false;
    return true;
  });
  const cleared = questions.map((q) => (q.unicastResponse ? ((changed = true), { ...q, unicastResponse: false }) : q));

  // Which names announce addresses, before and after the link-local ones go.
  const hadAddress = new Set<string>();
  const keptAddress = new Set<string>();
  const claims = isResponse(m) && ctx.localNames;
  const judge = (r: DnsRecord): boolean => {
    const key = nameKey(r.name);
    if (r.data.kind === 'address') hadAddress.add(key);
    if (claims && claims.has(key)) return remove('conflict'), false;
    if (!recordAllowed(r, ctx)) return remove('filtered'), false;
    if (isLinkLocal(r)) return remove('link-local'), false;
    if (r.data.kind === 'address') keptAddress.add(key);
    return true;
  };
  let sections = [m.answers, m.authorities, m.additionals].map((s) => s.filter(judge));
  const unusable = [...hadAddress].filter((k) => !keptAddress.has(k));
  if (unusable.length) {
    const gone = new Set(unusable);
    sections = sections.map((s) =>
      s.filter((r) => {
        if (!gone.has(nameKey(r.name))) return true;
        remove('link-local');
        return false;
      }),
    );
  }
  const [answers, authorities, additionals] = sections;
  if (Object.keys(removed).length) changed = true;

  // Nothing left to say: the most common reason a part was removed is why it all was.
  const why = (): MdnsDrop => (Object.entries(removed).sort((a, b) => b[1] - a[1])[0]?.[0] as MdnsDrop) ?? 'filtered';
  // A query of known answers only (the continuation of one, RFC 6762 s7.2) crosses while it has some.
  const empty = isResponse(m) ? answers.length === 0 : questions.length === 0 && (m.questions.length > 0 || answers.length === 0);
  if (empty) return { relay: false, reason: why() };
  return { relay: true, changed, removed, message: { ...m, questions: cleared, answers, authorities, additionals } };
}
