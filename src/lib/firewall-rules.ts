// The pure part of the firewall work (issue 20): which rules a proxy wants,
// what the filter table holds now (iptables-save's text), and the
// iptables-restore --noflush script that gets from one to the other.
//
// A UniFi gateway drops what arrives on its WAN (and on VPN interfaces it
// classes as WAN) unless a rule lets it in, and its controller rebuilds the
// whole filter table at every provisioning. Like tailscale's netfilter mode,
// each proxy keeps its rules in a chain of its own, jumped to from the top of
// INPUT ahead of UniFi's hook, every rule tagged "udm-proxies:<proxy>"; only
// that chain and that one jump are ever written or removed, so UniFi's rules
// and other add-ons' are never touched.
import { formatCidr, parseCidr } from './ip';

/** One port a proxy listens on, and who may reach it. */
export interface Opening {
  /** What it is, for the rule's comment and the log: "data port", "relay port". */
  what: string;
  port: number;
  /** Sources allowed, as CIDR text ("192.0.2.2", "fd00::/64"); empty: anyone. */
  from: string[];
  /** The listening address, when the socket is bound to one; undefined: every address. */
  to?: string;
  /** udp unless said (the metrics endpoint is tcp). */
  protocol?: 'udp' | 'tcp';
}

export type Family = 4 | 6;

/** One ACCEPT rule in the proxy's chain, in the fields iptables-save shows back. */
export interface ChainRule {
  source?: string;
  destination?: string;
  dport: number;
  comment: string;
  /** Set only for tcp; undefined: udp. */
  protocol?: 'tcp';
}

// UniFi OS 3.x/4.x (and its zone-based firewall, which keeps the same hook).
export const UNIFI_CHAINS = ['UBIOS_INPUT_JUMP', 'UBIOS_INPUT_USER_HOOK'];

/** "udp-tunnel" -> "UDM_PROXIES_UDP_TUNNEL" (iptables allows 28 characters). */
export function chainName(proxy: string): string {
  return `UDM_PROXIES_${proxy.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`.slice(0, 28);
}

export function tag(proxy: string): string {
  return `udm-proxies:${proxy}`;
}

const familyOf = (text: string): Family => (text.includes(':') ? 6 : 4);

/** A CIDR as iptables-save prints it: always with its prefix length. */
export function canonicalCidr(text: string): string {
  return formatCidr(parseCidr(text.includes('/') ? text : `${text}/${familyOf(text) === 6 ? 128 : 32}`));
}

/** The rules of one family that the openings need, sorted and without duplicates. */
export function wantedRules(proxy: string, openings: Opening[], family: Family): ChainRule[] {
  const out = new Map<string, ChainRule>();
  for (const o of openings) {
    if (o.to !== undefined && familyOf(o.to) !== family) continue;
    const destination = o.to === undefined ? undefined : canonicalCidr(o.to);
    const sources = o.from.length === 0 ? [undefined] : o.from.filter((f) => familyOf(f) === family).map(canonicalCidr);
    for (const source of sources) {
      const r: ChainRule = { source, destination, dport: o.port, comment: `${tag(proxy)} ${o.what}` };
      if (o.protocol === 'tcp') r.protocol = 'tcp';
      out.set(ruleKey(r), r);
    }
  }
  return [...out.values()].sort((a, b) => (ruleKey(a) < ruleKey(b) ? -1 : 1));
}

export function ruleKey(r: ChainRule): string {
  return `${r.protocol === 'tcp' ? 'tcp/' : ''}${r.dport}|${r.source ?? ''}|${r.destination ?? ''}|${r.comment}`;
}

/** The rule as arguments after "-A CHAIN" (the same words iptables-save prints). */
export function ruleArgs(r: ChainRule): string {
  return [r.source && `-s ${r.source}`, r.destination && `-d ${r.destination}`, `-p ${r.protocol ?? 'udp'} -m ${r.protocol ?? 'udp'} --dport ${r.dport}`, `-m comment --comment ${quote(r.comment)}`, '-j ACCEPT']
    .filter(Boolean)
    .join(' ');
}

export function jumpArgs(proxy: string): string {
  return `-m comment --comment ${quote(tag(proxy))} -j ${chainName(proxy)}`;
}

// iptables-restore splits a line like a shell does; our comments have no quotes.
const quote = (s: string) => `"${s}"`;

/** What iptables-save shows of the filter table, as far as we care. */
export interface TableView {
  chains: Set<string>;
  /** INPUT's rules in order, each as its words after "-A INPUT". */
  input: string[];
  /** Each chain's rules ("-A CHAIN" words after the name). */
  rules: Map<string, string[]>;
}

/** Reads the *filter section of iptables-save's output. */
export function parseSave(text: string): TableView {
  const view: TableView = { chains: new Set(), input: [], rules: new Map() };
  let inFilter = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) inFilter = line === '*filter';
    if (!inFilter) continue;
    if (line.startsWith(':')) view.chains.add(line.slice(1).split(' ')[0]);
    else if (line.startsWith('-A ')) {
      const rest = line.slice(3);
      const sp = rest.indexOf(' ');
      const chain = sp < 0 ? rest : rest.slice(0, sp);
      const words = sp < 0 ? '' : rest.slice(sp + 1);
      if (chain === 'INPUT') view.input.push(words);
      const list = view.rules.get(chain) ?? [];
      list.push(words);
      view.rules.set(chain, list);
    }
  }
  return view;
}

export function hasUnifiChains(view: TableView): boolean {
  return UNIFI_CHAINS.some((c) => view.chains.has(c));
}

/** Reads back one of our chain's rules; undefined for a rule we did not write. */
export function parseChainRule(words: string): ChainRule | undefined {
  const m = /^(?:-s (\S+) )?(?:-d (\S+) )?-p (udp|tcp) -m \3 --dport (\d+) -m comment --comment (?:"([^"]*)"|(\S+)) -j ACCEPT$/.exec(words);
  if (!m) return undefined;
  const r: ChainRule = { source: m[1], destination: m[2], dport: Number(m[4]), comment: m[5] ?? m[6] };
  if (m[3] === 'tcp') r.protocol = 'tcp';
  return r;
}

export interface Plan {
  /** The iptables-restore --noflush script; empty when the table is as wanted. */
  script: string;
  /** The chain was absent or its rules differed (written anew). */
  rulesWritten: boolean;
  /** The jump was absent or not ahead of UniFi's hook (put at the top). */
  jumpPlaced: boolean;
  /** Extra jumps removed (there must be exactly one). */
  jumpsRemoved: number;
}

const isOurJump = (proxy: string) => (words: string) => words.endsWith(`-j ${chainName(proxy)}`);

/**
 * What to write so the table holds exactly the wanted rules in our chain and
 * one jump to it, ahead of every jump into UniFi's chains. Under --noflush,
 * ":CHAIN - [0:0]" creates the chain or empties it; the rest of the table is
 * left as it is.
 */
export function plan(proxy: string, view: TableView, wanted: ChainRule[]): Plan {
  const chain = chainName(proxy);
  const have = view.chains.has(chain) ? (view.rules.get(chain) ?? []) : undefined;
  const same =
    have !== undefined &&
    have.length === wanted.length &&
    have.every((w, i) => {
      const r = parseChainRule(w);
      return r !== undefined && ruleKey(r) === ruleKey(wanted[i]);
    });
  const jumps = view.input.map((w, i) => (isOurJump(proxy)(w) ? i : -1)).filter((i) => i >= 0);
  const firstUnifi = view.input.findIndex((w) => UNIFI_CHAINS.some((c) => w.endsWith(`-j ${c}`)));
  const placed = jumps.length === 1 && (firstUnifi < 0 || jumps[0] < firstUnifi);
  const lines: string[] = [];
  if (!same) {
    lines.push(`:${chain} - [0:0]`);
    for (const r of wanted) lines.push(`-A ${chain} ${ruleArgs(r)}`);
  }
  // Delete by its spec, never by number: the table may have been rebuilt since
  // it was read, and a number would then name somebody else's rule.
  const removed = placed ? 0 : jumps.length;
  for (let i = 0; i < removed; i++) lines.push(`-D INPUT ${jumpArgs(proxy)}`);
  if (!placed) lines.push(`-I INPUT 1 ${jumpArgs(proxy)}`);
  return {
    script: lines.length ? ['*filter', ...lines, 'COMMIT', ''].join('\n') : '',
    rulesWritten: !same,
    jumpPlaced: !placed,
    jumpsRemoved: removed,
  };
}

/** The script that takes our chain and every jump to it away; empty when none is there. */
export function removal(proxy: string, view: TableView): string {
  const chain = chainName(proxy);
  const jumps = view.input.filter(isOurJump(proxy)).length;
  if (!view.chains.has(chain) && jumps === 0) return '';
  const lines = ['*filter'];
  for (let i = 0; i < jumps; i++) lines.push(`-D INPUT ${jumpArgs(proxy)}`);
  if (view.chains.has(chain)) lines.push(`-F ${chain}`, `-X ${chain}`);
  lines.push('COMMIT', '');
  return lines.join('\n');
}

/** The rules as an owner reads them (status, doctor): "udp 5000 from 192.0.2.2/32 (data port)". */
export function describeRule(proxy: string, r: ChainRule): string {
  const what = r.comment.startsWith(`${tag(proxy)} `) ? r.comment.slice(tag(proxy).length + 1) : r.comment;
  return `${r.protocol ?? 'udp'} ${r.dport}${r.destination ? ` to ${r.destination}` : ''} from ${r.source ?? 'anywhere'} (${what})`;
}
