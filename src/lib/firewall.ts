// Keeps a proxy's openings in a UniFi gateway's firewall (issue 20): its own
// chain and one jump to it, written with iptables-legacy (UniFi's kernels have
// no nf_tables), put back within seconds after the controller rebuilds the
// table, removed when the daemon stops. The rules themselves are planned by
// firewall-rules.ts; this file decides when to look and runs the tools.
//
// When to look, cheapest first:
//   - every TICK_MS, the table's shape from the kernel (xt-table-info.ts, one
//     system call, no process): a rebuild changes it;
//   - UniFi's provisioning state file, watched with inotify: its mtime moves
//     at each provisioning;
//   - the openings the proxy wants (a tunnel added): compared each tick.
// Only when one of them moved does iptables-save run (one process), and
// iptables-restore only when something must change.
//
// Modes: "auto" (the default) acts only where UniFi's chains exist, so a plain
// Linux host is never touched; "on" acts on any host with legacy iptables;
// "off" writes nothing and says in the status what would be needed.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  chainName,
  describeRule,
  hasUnifiChains,
  parseSave,
  plan,
  removal,
  ruleKey,
  wantedRules,
  type ChainRule,
  type Family,
  type Opening,
  type TableView,
} from './firewall-rules';
import { oneOf } from './config';
import { evaluate, parseTable, type Table } from './firewall-verdict';
import { routeInterface, systemRoutes } from './route-lookup';
import { legacyFilterExists, TableInfo } from './xt-table-info';

export type FirewallMode = 'auto' | 'on' | 'off';
export const FIREWALL_MODES: readonly FirewallMode[] = ['auto', 'on', 'off'];
export const UNIFI_STATE_FILE = '/data/udapi-config/ubios-udapi-server/ubios-udapi-server.state';
/** How often the table's shape and the wanted openings are compared. */
const TICK_MS = 1000;
/** Where the kernel will not tell the table's shape: a full look this often. */
const FALLBACK_CHECK_MS = 60_000;
/** After the state file moved: look at once and again, since UniFi may rebuild just after writing it. */
const STATE_FILE_LOOKS_MS = [100, 1000, 3000];
const TOOL_TIMEOUT_MS = 10_000;

export interface FirewallLog {
  info(msg: string): void;
  warn(msg: string): void;
  debug(msg: string): void;
}

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface FirewallOptions {
  proxy: string;
  mode: FirewallMode;
  openings: () => Opening[];
  log: FirewallLog;
  /** UniFi's provisioning state file (UDM_PROXIES_UNIFI_STATE_FILE overrides it, for the labs). */
  stateFile?: string;
  now?: () => number;
}

export interface FamilyStatus {
  /** Our chain is in place and kept there. */
  active: boolean;
  /** Why it is, or is not, in a few words. */
  state: string;
  unifi: boolean;
  /** The rules wanted (off: that would be needed), as an owner reads them. */
  rules: string[];
  /** Off: whether the table in force lets each of those peers in, and by which rule. */
  reach?: Reach[];
}

export interface Reach {
  rule: string;
  /** undefined: cannot tell. */
  letIn?: boolean;
  why: string;
}

export interface FirewallStatus {
  mode: FirewallMode;
  chain: string;
  stateFile: string;
  ipv4: FamilyStatus;
  ipv6: FamilyStatus;
  /** Times the rules were put back after somebody else removed them. */
  putBack: number;
  lastPutBack: number | null;
  lastChange: number | null;
  lastError?: string;
}

interface FamilyState {
  family: Family;
  info?: TableInfo;
  /** The shape after our last look; undefined: look next tick. */
  fingerprint?: string;
  /** The kernel would not tell the shape: full looks on a slow timer instead. */
  blind: boolean;
  wantedKey: string;
  status: FamilyStatus;
  /** We wrote here at least once (so there is something to remove at the end). */
  wrote: boolean;
}

function toolPath(name: string): string | undefined {
  for (const dir of ['/usr/sbin', '/sbin', '/usr/bin', '/bin']) {
    const p = path.join(dir, name);
    if (fs.existsSync(p)) return p;
  }
  return undefined;
}

/** The legacy tools when both kinds are installed (Debian's iptables is nf_tables by default). */
function tools(family: Family): { save?: string; restore?: string } {
  const base = family === 6 ? 'ip6tables' : 'iptables';
  return {
    save: toolPath(`${base}-legacy-save`) ?? toolPath(`${base}-save`),
    restore: toolPath(`${base}-legacy-restore`) ?? toolPath(`${base}-restore`),
  };
}

function runTool(file: string, args: string[], input?: string): Promise<ToolResult> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: TOOL_TIMEOUT_MS });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err) => resolve({ code: -1, stdout, stderr: err.message }));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.on('error', () => {}); // a tool that exits early closes its stdin
    child.stdin.end(input ?? '');
  });
}

const familyName = (f: Family) => (f === 6 ? 'IPv6' : 'IPv4');
const firstLine = (s: string) => s.trim().split('\n')[0] ?? '';

export class Firewall {
  private readonly opts: FirewallOptions;
  private readonly now: () => number;
  private readonly stateFile: string;
  private readonly families: FamilyState[];
  private timer: NodeJS.Timeout | undefined;
  private watcher: fs.FSWatcher | undefined;
  private readonly lookTimers = new Set<NodeJS.Timeout>();
  private running: Promise<void> | undefined;
  private again = false;
  private lastFull = 0;
  private closed = false;
  private counters = { putBack: 0, lastPutBack: null as number | null, lastChange: null as number | null, lastError: undefined as string | undefined };

  constructor(opts: FirewallOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.stateFile = opts.stateFile ?? process.env.UDM_PROXIES_UNIFI_STATE_FILE ?? UNIFI_STATE_FILE;
    this.families = ([4, 6] as Family[]).map((family) => ({
      family,
      blind: false,
      wantedKey: '',
      wrote: false,
      status: { active: false, state: opts.mode === 'off' ? 'off' : 'not looked at yet', unifi: false, rules: [] },
    }));
  }

  get mode(): FirewallMode {
    return this.opts.mode;
  }

  /** Looks now, then keeps the rules in place until close(). */
  start(): Promise<void> {
    this.watchStateFile();
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
    return this.look('start');
  }

  /** The openings changed (a reload, a tunnel added): look at once rather than at the next tick. */
  refresh(): Promise<void> {
    return this.look('openings');
  }

  private wanted(family: Family): ChainRule[] {
    return wantedRules(this.opts.proxy, this.opts.openings(), family);
  }

  private tick(): void {
    if (this.closed) return;
    if (!this.watcher) this.watchStateFile();
    let due = false;
    for (const f of this.families) {
      if (ruleSetKey(this.wanted(f.family)) !== f.wantedKey) due = true;
      else if (f.blind) due ||= this.now() - this.lastFull >= FALLBACK_CHECK_MS;
      else if (this.shapeMoved(f)) due = true;
    }
    if (due) void this.look('tick');
  }

  /** True when the table's shape differs from the last look (or cannot be read: then the slow timer takes over). */
  private shapeMoved(f: FamilyState): boolean {
    if (this.opts.mode !== 'on' && !legacyFilterExists(f.family)) return f.fingerprint !== 'none';
    try {
      f.info ??= new TableInfo(f.family);
      return f.info.fingerprint() !== f.fingerprint;
    } catch (err) {
      f.blind = true;
      this.opts.log.debug(`firewall: cannot read the ${familyName(f.family)} table's shape (${(err as Error).message}); looking every ${FALLBACK_CHECK_MS / 1000} s instead`);
      return true;
    }
  }

  private watchStateFile(): void {
    const dir = path.dirname(this.stateFile);
    const base = path.basename(this.stateFile);
    try {
      this.watcher = fs.watch(dir, { persistent: false }, (_event, file) => {
        if (file !== null && file !== base) return;
        for (const ms of STATE_FILE_LOOKS_MS) {
          const t = setTimeout(() => {
            this.lookTimers.delete(t);
            void this.look('state file');
          }, ms);
          this.lookTimers.add(t);
        }
      });
      this.watcher.on('error', () => {
        this.watcher?.close();
        this.watcher = undefined; // the directory went away: watched again when it is back
      });
    } catch {
      this.watcher = undefined; // not a UniFi gateway, or /data not mounted yet
    }
  }

  /** One look at each family, never two at once: a request meanwhile runs once more after. */
  private look(why: string): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        this.lastFull = this.now();
        // The two tables side by side: each look is a process or two, slow on a busy
        // gateway; iptables-restore -w waits for the other's lock where they meet.
        const putBack = (await Promise.all(this.families.map((f) => this.lookAt(f, why)))).some(Boolean);
        // One rebuild takes both families' rules: counted once.
        if (putBack) {
          this.counters.putBack++;
          this.counters.lastPutBack = this.now();
        }
      } while (this.again && !this.closed);
    })().finally(() => (this.running = undefined));
    return this.running;
  }

  /** Returns true when it put back rules that somebody else had removed. */
  private async lookAt(f: FamilyState, why: string): Promise<boolean> {
    const wanted = this.wanted(f.family);
    f.wantedKey = ruleSetKey(wanted);
    const describe = () => wanted.map((r) => describeRule(this.opts.proxy, r));
    f.status.rules = describe();
    // Asking for a table that is not there would load its module: a plain host stays as it is.
    if (this.opts.mode !== 'on' && !legacyFilterExists(f.family)) {
      f.fingerprint = 'none';
      return this.setState(f, false, false, `${this.opts.mode}: no legacy iptables filter table here; nothing opened`), false;
    }
    const t = tools(f.family);
    if (!t.save || !t.restore) return this.setState(f, false, false, `${f.family === 6 ? 'ip6tables' : 'iptables'}-legacy is not installed`, 'error'), false;
    const shapeBefore = this.readShape(f);
    const saved = await runTool(t.save, ['-t', 'filter']);
    if (saved.code !== 0) return this.setState(f, false, false, `cannot read the table: ${firstLine(saved.stderr)}`, 'error'), false;
    const view = parseSave(saved.stdout);
    const unifi = hasUnifiChains(view);
    if (this.opts.mode === 'off') {
      f.fingerprint = shapeBefore;
      f.status.reach = reachability(this.opts.proxy, parseTable(saved.stdout), wanted, f.family);
      return this.setState(f, false, unifi, unifi ? "off: nothing opened, and UniFi's firewall is here" : 'off: nothing opened'), false;
    }
    if (this.opts.mode === 'auto' && !unifi) {
      f.fingerprint = shapeBefore;
      return this.setState(f, false, false, "auto: UniFi's firewall chains are not here; nothing opened"), false;
    }
    const p = plan(this.opts.proxy, view, wanted);
    let putBack = false;
    if (p.script && !this.closed) {
      const r = await runTool(t.restore, ['-w', '5', '--noflush'], p.script);
      if (r.code !== 0) {
        f.fingerprint = undefined; // try again next tick
        return this.setState(f, false, unifi, `cannot write the rules: ${firstLine(r.stderr)}`, 'error'), false;
      }
      putBack = this.reportWrite(f, p, view, wanted, why);
    }
    f.wrote = true;
    f.fingerprint = this.readShape(f);
    this.setState(f, true, unifi, `chain ${chainName(this.opts.proxy)} in place, jumped to from the top of INPUT`);
    return putBack;
  }

  private readShape(f: FamilyState): string | undefined {
    if (f.blind) return undefined;
    try {
      f.info ??= new TableInfo(f.family);
      return f.info.fingerprint();
    } catch {
      return undefined;
    }
  }

  /** One log line for what was written; true when it was a put-back. */
  private reportWrite(f: FamilyState, p: ReturnType<typeof plan>, before: TableView, wanted: ChainRule[], why: string): boolean {
    const chain = chainName(this.opts.proxy);
    const fam = familyName(f.family);
    const rules = wanted.length ? wanted.map((r) => describeRule(this.opts.proxy, r)).join('; ') : 'no rules yet';
    const chainWas = before.chains.has(chain);
    this.counters.lastChange = this.now();
    if (f.wrote && (!chainWas || (p.jumpPlaced && !p.rulesWritten))) {
      // We had written it and it went: somebody rebuilt the table.
      this.opts.log.info(`firewall: ${fam} rules put back after the firewall was rebuilt (${why}): ${rules}`);
      return true;
    }
    if (!f.wrote) this.opts.log.info(`firewall: ${fam}: opened in chain ${chain}: ${rules}`);
    else this.opts.log.info(`firewall: ${fam} rules now: ${rules}${p.jumpsRemoved > 1 ? ` (${p.jumpsRemoved - 1} duplicate jumps removed)` : ''}`);
    return false;
  }

  private setState(f: FamilyState, active: boolean, unifi: boolean, state: string, level?: 'error'): void {
    const changed = f.status.state !== state;
    f.status.active = active;
    f.status.unifi = unifi;
    f.status.state = state;
    if (level === 'error') {
      if (changed) this.opts.log.warn(`firewall: ${familyName(f.family)}: ${state}`);
      this.counters.lastError = `${familyName(f.family)}: ${state}`;
    } else if (changed && !active) {
      // A plain host (no legacy table at all) is the common case off UniFi: not worth a line.
      const quiet = state.includes('no legacy iptables filter table');
      this.opts.log[quiet ? 'debug' : 'info'](`firewall: ${familyName(f.family)}: ${state}`);
    }
  }

  status(): FirewallStatus {
    const [v4, v6] = this.families;
    return {
      mode: this.opts.mode,
      chain: chainName(this.opts.proxy),
      stateFile: this.stateFile,
      ipv4: { ...v4.status },
      ipv6: { ...v6.status },
      putBack: this.counters.putBack,
      lastPutBack: this.counters.lastPutBack,
      lastChange: this.counters.lastChange,
      lastError: this.counters.lastError,
    };
  }

  /**
   * Stops watching and takes the chain and its jump away. A look still running
   * finishes first: its iptables-restore, landing after the removal, would put
   * the chain back for good.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    for (const t of this.lookTimers) clearTimeout(t);
    this.watcher?.close();
    await this.running;
    for (const f of this.families) {
      f.info?.close();
      if (!f.wrote) continue;
      const t = tools(f.family);
      try {
        const script = removal(this.opts.proxy, parseSave(execFileSync(t.save!, ['-t', 'filter'], { encoding: 'utf8', timeout: TOOL_TIMEOUT_MS })));
        if (script) {
          execFileSync(t.restore!, ['-w', '5', '--noflush'], { input: script, timeout: TOOL_TIMEOUT_MS, stdio: ['pipe', 'ignore', 'pipe'] });
          this.opts.log.info(`firewall: ${familyName(f.family)}: chain ${chainName(this.opts.proxy)} and its jump removed`);
        }
      } catch (err) {
        this.opts.log.warn(`firewall: ${familyName(f.family)}: cannot remove chain ${chainName(this.opts.proxy)}: ${firstLine((err as { stderr?: string }).stderr?.toString() ?? (err as Error).message)}`);
      }
    }
  }
}

const ruleSetKey = (rules: ChainRule[]) => rules.map(ruleKey).join('\n');

/** For each wanted rule: would a new flow from its source, on the interface the route to it leaves by, get in? */
export function reachability(proxy: string, table: Table, wanted: ChainRule[], family: Family, routes = systemRoutes()): Reach[] {
  return wanted.map((r) => {
    const any = r.source === undefined;
    const probeSource = any ? (family === 6 ? '::' : '0.0.0.0') : r.source!.slice(0, r.source!.indexOf('/'));
    const iface = routeInterface(routes, probeSource);
    const v = evaluate(table, { source: probeSource, iface, dport: r.dport, protocol: r.protocol ?? 'udp' });
    const via = iface ? ` on ${iface}` : '';
    const from = any ? `from anywhere${via} (the default route's interface)` : `from ${r.source}${via}`;
    const why =
      v.outcome === 'accepted'
        ? `let in ${from} by: ${v.rule}`
        : v.outcome === 'dropped'
          ? `DROPPED ${from} by: ${v.rule}`
          : `cannot tell ${from}: it depends on: ${v.rule}`;
    return { rule: describeRule(proxy, r), letIn: v.outcome === undefined ? undefined : v.outcome === 'accepted', why };
  });
}

/** The "firewall" key of a config file (and --firewall). */
export function firewallMode(v: unknown, field: string): FirewallMode {
  return oneOf(v, field, FIREWALL_MODES);
}
