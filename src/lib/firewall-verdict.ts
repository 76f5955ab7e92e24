// Would the filter table let a peer's first datagram in? For `--firewall off`
// (issue 20): the owner manages the firewall, and `status` / `udm-proxies
// doctor` tell, per opening, whether the rules in force accept a new UDP flow
// from that peer, and which rule decides.
//
// A small evaluator of iptables-save's filter table: INPUT from the top, into
// jumped-to chains and back (RETURN, or the end of a user chain), the chain's
// policy at the end of INPUT. It knows the matches UniFi's chains and hand
// rules use (-i/-s/-d/-p, udp/multiport ports, conntrack/state, comment,
// addrtype LOCAL). Anything else (ipsets, marks, limits) may or may not
// match: both outcomes are followed, and when they disagree the answer is
// "cannot tell", naming the rule it depends on.
import { cidrContains, parseCidr, parseIPv4, parseIPv6 } from './ip';

/** A new flow to the gateway itself. */
export interface Probe {
  /** udp unless said (the metrics endpoint is tcp). */
  protocol?: 'udp' | 'tcp';
  /** The peer's address (or the network address of a prefix). */
  source: string;
  /** The interface it arrives on; undefined: unknown. */
  iface?: string;
  dport: number;
}

export type Outcome = 'accepted' | 'dropped';

export interface Verdict {
  /** undefined: it depends on a rule this evaluator cannot judge. */
  outcome?: Outcome;
  /** The rule that decides ("-A CHAIN ..."), or the policy, or the rule it depends on. */
  rule: string;
}

/** The filter table's chains: each rule's words after "-A CHAIN"; the built-in chains' policies. */
export interface Table {
  policies: Map<string, string>;
  rules: Map<string, string[]>;
}

export function parseTable(save: string): Table {
  const t: Table = { policies: new Map(), rules: new Map() };
  let inFilter = false;
  for (const line of save.split('\n')) {
    if (line.startsWith('*')) inFilter = line === '*filter';
    if (!inFilter) continue;
    const m = /^:(\S+) (\S+)/.exec(line);
    if (m) {
      if (m[2] !== '-') t.policies.set(m[1], m[2]);
      if (!t.rules.has(m[1])) t.rules.set(m[1], []);
    } else if (line.startsWith('-A ')) {
      const [chain, ...rest] = line.slice(3).split(' ');
      const list = t.rules.get(chain) ?? [];
      list.push(rest.join(' '));
      t.rules.set(chain, list);
    }
  }
  return t;
}

/** iptables-save quotes words with spaces ("a comment"). */
export function words(s: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m; (m = re.exec(s)); ) out.push(m[1] !== undefined ? m[1] : m[2]);
  return out;
}

type Tri = boolean | undefined; // undefined: cannot tell

function ifaceMatches(pattern: string, iface: string | undefined): Tri {
  if (iface === undefined) return undefined;
  return pattern.endsWith('+') ? iface.startsWith(pattern.slice(0, -1)) : iface === pattern;
}

function addressIn(prefix: string, address: string): boolean {
  const family = address.includes(':') ? 6 : 4;
  if (prefix.includes(':') !== (family === 6)) return false;
  const c = parseCidr(prefix.includes('/') ? prefix : `${prefix}/${family === 6 ? 128 : 32}`);
  return cidrContains(c, family === 6 ? parseIPv6(address) : parseIPv4(address));
}

function portIn(list: string, port: number): boolean {
  return list.split(',').some((p) => {
    const [lo, hi] = p.split(':').map(Number);
    return hi === undefined ? port === lo : port >= lo && port <= (hi || 65535);
  });
}

/** Whether a rule's matches hold for the probe. */
export function ruleMatches(w: string[], probe: Probe): Tri {
  let result = true as Tri;
  const and = (v: Tri) => {
    if (v === false) result = false;
    else if (v === undefined && result !== false) result = undefined;
  };
  for (let i = 0; i < w.length && result !== false; i++) {
    const neg = w[i] === '!';
    if (neg) i++;
    const opt = w[i];
    const arg = w[i + 1];
    const not = (v: Tri): Tri => (v === undefined ? undefined : neg ? !v : v);
    switch (opt) {
      case '-j':
      case '-g':
        return result; // the target: matches end here
      case '-i':
        and(not(ifaceMatches(arg, probe.iface)));
        i++;
        break;
      case '-o':
        i++; // INPUT has no output interface
        break;
      case '-s':
        and(not(addressIn(arg, probe.source)));
        i++;
        break;
      case '-d':
        and(undefined); // which of the gateway's addresses: not known here
        i++;
        break;
      case '-p':
        and(not([probe.protocol ?? 'udp', probe.protocol === 'tcp' ? '6' : '17', 'all', '0'].includes(arg.toLowerCase())));
        i++;
        break;
      case '-m':
        i++;
        if (!['udp', 'tcp', 'multiport', 'conntrack', 'state', 'comment', 'addrtype'].includes(arg)) and(undefined);
        break;
      case '--dport':
      case '--dports':
      case '--destination-port':
      case '--destination-ports':
        and(not(portIn(arg, probe.dport)));
        i++;
        break;
      case '--ctstate':
      case '--state':
        and(not(arg.split(',').includes('NEW')));
        i++;
        break;
      case '--comment':
        i++;
        break;
      case '--syn':
        break; // a new TCP flow starts with a SYN
      case '--dst-type':
        and(not(arg === 'LOCAL'));
        i++;
        break;
      default:
        // An option we do not know, with or without an argument.
        and(undefined);
        if (arg !== undefined && !arg.startsWith('-')) i++;
    }
  }
  return result;
}

function target(w: string[]): { kind: '-j' | '-g' | undefined; name?: string } {
  for (let i = w.length - 2; i >= 0; i--) if (w[i] === '-j' || w[i] === '-g') return { kind: w[i] as '-j' | '-g', name: w[i + 1] };
  return { kind: undefined };
}

const TERMINAL: Record<string, Outcome> = { ACCEPT: 'accepted', DROP: 'dropped', REJECT: 'dropped' };
const MAX_BRANCHES = 64;

interface Path {
  outcome: Outcome;
  rule: string;
}

/** Every way the probe can go through the table (more than one only where a rule cannot be judged). */
export function evaluate(table: Table, probe: Probe): Verdict {
  const ends: Path[] = [];
  let doubt: string | undefined;
  let branches = 0;
  // Returns the paths that fall off the end of `chain` (or RETURN from it).
  const walk = (chain: string, from: number, depth: number, cont: () => void): void => {
    if (branches > MAX_BRANCHES || depth > 32) {
      doubt ??= `-A ${chain} (too deep)`;
      return;
    }
    const rules = table.rules.get(chain) ?? [];
    for (let i = from; i < rules.length; i++) {
      const w = words(rules[i]);
      const m = ruleMatches(w, probe);
      if (m === false) continue;
      const text = `-A ${chain} ${rules[i]}`;
      if (m === undefined) {
        // Follow the "does not match" way now, the "matches" way as its own branch.
        branches++;
        doubt ??= text;
        walk(chain, i + 1, depth, cont);
      }
      const t = target(w);
      if (t.name === undefined) {
        if (m === undefined) return;
        continue;
      }
      if (t.name in TERMINAL) {
        ends.push({ outcome: TERMINAL[t.name], rule: text });
        return;
      }
      if (t.name === 'RETURN') return cont();
      if (table.rules.has(t.name)) {
        // -g: where it returns, it returns to our caller; -j: to the next rule here.
        if (t.kind === '-g') return walk(t.name, 0, depth + 1, cont);
        return walk(t.name, 0, depth + 1, () => walk(chain, i + 1, depth, cont));
      }
      // LOG, MARK and kin go on to the next rule.
      if (m === undefined) return;
    }
    cont();
  };
  walk('INPUT', 0, 0, () => ends.push({ outcome: table.policies.get('INPUT') === 'DROP' ? 'dropped' : 'accepted', rule: `INPUT policy ${table.policies.get('INPUT') ?? 'ACCEPT'}` }));
  const outcomes = new Set(ends.map((e) => e.outcome));
  if (outcomes.size === 1 && branches <= MAX_BRANCHES) return { outcome: ends[0].outcome, rule: ends[0].rule };
  return { rule: doubt ?? ends[0]?.rule ?? 'INPUT' };
}
