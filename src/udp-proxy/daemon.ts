// The udp-proxy daemon: runs the configured rules, expires idle sessions, and
// applies a new set of rules on reload. A rule whose options did not change
// keeps its sockets and sessions; the others are closed and opened anew.
import dgram from 'node:dgram';
import { TypedEmitter } from 'tiny-typed-emitter';
import { monotonicMs, type Clock } from '../lib/clock';
import type { DaemonLogEvents } from '../lib/log';
import { defaultRuleName, ruleKey, type RuleOptions } from './config';
import { ProxyRule, type CreateSocket, type RuleStatus } from './rule';

export interface UdpProxyDeps {
  /** Wall clock: times in the status. */
  now?: Clock;
  /** Idle timeouts (monotonic; default: now if given, else performance.now). */
  tick?: Clock;
  createSocket?: CreateSocket;
  /** How often idle sessions are looked for (1 s). */
  sweepIntervalMs?: number;
  /** How often a rule that could not listen (after a reload) tries again (5 s). */
  retryIntervalMs?: number;
}

export type UdpProxyEvents = DaemonLogEvents;

export interface UdpProxyStatus {
  startedAt: number;
  now: number;
  rules: RuleStatus[];
}

// Every address we send to is an IP literal (config and rinfo). dgram would still
// pass each one through dns.lookup, which answers a literal only on the next
// tick: a deferred send and several allocations per datagram, for nothing.
function literalLookup(address: string, family: unknown, callback: (err: Error | null, address: string, family: number) => void): void {
  callback(null, address, family === 6 || family === 'IPv6' ? 6 : 4);
}

export class UdpProxy extends TypedEmitter<UdpProxyEvents> {
  private rules: { key: string; rule: ProxyRule }[] = [];
  private readonly now: Clock;
  private readonly tick: Clock;
  private readonly createSocket: CreateSocket;
  private readonly sweepIntervalMs: number;
  private readonly retryIntervalMs: number;
  private timers: NodeJS.Timeout[] = [];
  private readonly startedAt: number;
  private closed = false;

  constructor(
    private initial: RuleOptions[],
    deps: UdpProxyDeps = {},
  ) {
    super();
    this.now = deps.now ?? Date.now;
    this.tick = deps.tick ?? deps.now ?? monotonicMs;
    this.createSocket = deps.createSocket ?? ((o) => dgram.createSocket({ ...o, lookup: literalLookup }));
    this.sweepIntervalMs = deps.sweepIntervalMs ?? 1000;
    this.retryIntervalMs = deps.retryIntervalMs ?? 5000;
    this.startedAt = this.now();
  }

  private makeRule(opts: RuleOptions): ProxyRule {
    return new ProxyRule(opts, {
      createSocket: this.createSocket,
      now: this.now,
      tick: this.tick,
      warning: (key, msg) => this.emit('warning', key, msg),
      debug: (msg) => this.emit('debug', msg),
    });
  }

  /** Listens on every rule; rejects (closing what was opened) if one cannot. */
  async start(): Promise<void> {
    const rules = this.initial.map((o) => ({ key: ruleKey(o), rule: this.makeRule(o) }));
    this.rules = rules;
    try {
      for (const { rule } of rules) {
        await rule.listen();
        this.emit('info', `${label(rule.opts)}listening on ${describe(rule.opts)}`);
      }
    } catch (err) {
      this.close();
      throw err;
    }
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(fn, ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.sweepIntervalMs, () => this.sweep());
    every(this.retryIntervalMs, () => void this.retryListen());
  }

  /** Closes idle sessions of every rule. */
  sweep(): void {
    for (const { rule } of this.rules) rule.sweep();
  }

  private async retryListen(): Promise<void> {
    for (const { rule } of this.rules) {
      if (rule.isListening || this.closed) continue;
      try {
        await rule.listen();
        this.emit('info', `${label(rule.opts)}listening on ${describe(rule.opts)}`);
      } catch (err) {
        this.emit('warning', `listen:${rule.opts.name}`, `${rule.opts.name}: ${(err as Error).message}; retrying`);
      }
    }
  }

  /**
   * Applies a new rule set (SIGHUP). Unchanged rules keep their sessions;
   * changed and removed ones are closed first, so a changed rule can listen on
   * its old port again. A rule that cannot listen is retried, not fatal.
   */
  async reconfigure(next: RuleOptions[]): Promise<void> {
    const old = new Map(this.rules.map((r) => [r.key, r]));
    const kept: typeof this.rules = [];
    const wanted = next.map((o) => ({ key: ruleKey(o), opts: o }));
    const keep = new Set(wanted.map((w) => w.key));
    for (const [key, r] of old) {
      if (keep.has(key)) continue;
      r.rule.close();
      this.emit('info', `${r.rule.opts.name}: closed (${r.rule.counters.sessionsOpened} sessions served)`);
    }
    const opened: ProxyRule[] = [];
    for (const w of wanted) {
      const prev = old.get(w.key);
      if (prev) {
        kept.push(prev);
        continue;
      }
      const rule = this.makeRule(w.opts);
      kept.push({ key: w.key, rule });
      opened.push(rule);
    }
    this.rules = kept;
    for (const rule of opened) {
      try {
        await rule.listen();
        this.emit('info', `${label(rule.opts)}listening on ${describe(rule.opts)}`);
      } catch (err) {
        this.emit('warning', `listen:${rule.opts.name}`, `${rule.opts.name}: ${(err as Error).message}; retrying`);
      }
    }
    const unchanged = next.length - opened.length;
    this.emit('info', `rules: ${unchanged} unchanged (sessions kept), ${opened.length} new or changed, ${old.size - unchanged} closed`);
  }

  status(): UdpProxyStatus {
    return { startedAt: this.startedAt, now: this.now(), rules: this.rules.map((r) => r.rule.status()) };
  }

  /** Closes every socket. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    for (const { rule } of this.rules) rule.close();
  }
}

// "name: " for rules the user named; a default name would repeat describe().
function label(o: RuleOptions): string {
  return o.name === defaultRuleName(o.listen, o.upstream) ? '' : `${o.name}: `;
}

function describe(o: RuleOptions): string {
  const listen = o.listen.address === undefined ? `port ${o.listen.port}` : `${o.listen.family === 6 ? `[${o.listen.address}]` : o.listen.address}:${o.listen.port}`;
  const up = o.upstream.family === 6 ? `[${o.upstream.address}]:${o.upstream.port}` : `${o.upstream.address}:${o.upstream.port}`;
  const aliases = o.aliases.length ? `, replies also from ${o.aliases.map((a) => (a.family === 6 ? `[${a.address}]` : a.address) + (a.port ? `:${a.port}` : ' (any port)')).join(', ')}` : '';
  return `${listen} -> ${up}${aliases}, idle ${o.idleTimeoutMs / 1000}s, at most ${o.maxSessions} sessions${o.allow.length ? `, ${o.allow.length} allowed prefixes` : ''}`;
}

export function createUdpProxy(rules: RuleOptions[], deps?: UdpProxyDeps): UdpProxy {
  return new UdpProxy(rules, deps);
}
