// The udp-proxy daemon: runs the configured rules, expires idle sessions, and
// applies a new set of rules on reload. A rule whose options did not change
// keeps its sockets and sessions; the others are closed and opened anew.
import { TypedEmitter } from 'tiny-typed-emitter';
import { monotonicMs, type Clock } from '../lib/clock';
import type { DaemonLogEvents } from '../lib/log';
import { kernelRefusalStandIn, type DataPathStatus } from '../lib/offload';
import { probeBatching } from '../lib/udp-socket';
import { defaultRuleName, ruleKey, type RuleOptions } from './config';
import { BATCH, ProxyIo, ProxyRule, type RuleCounts, type RuleStatus } from './rule';

export interface UdpProxyDeps {
  /** Wall clock: times in the status. */
  now?: Clock;
  /** Idle timeouts (monotonic; default: now if given, else performance.now). */
  tick?: Clock;
  /** Batched I/O (default); false: one datagram per system call (--no-offload). */
  offload?: boolean;
  /** How often idle sessions are looked for (1 s). */
  sweepIntervalMs?: number;
  /** How often a rule that could not listen (after a reload) tries again (5 s). */
  retryIntervalMs?: number;
}

export type UdpProxyEvents = DaemonLogEvents;

export interface UdpProxyStatus {
  startedAt: number;
  now: number;
  dataPath: DataPathStatus;
  /** Datagrams moved per system call at most. */
  batch: number;
  rules: RuleStatus[];
}

export class UdpProxy extends TypedEmitter<UdpProxyEvents> {
  private rules: { key: string; rule: ProxyRule }[] = [];
  private readonly now: Clock;
  private readonly tick: Clock;
  private readonly io: ProxyIo;
  private readonly dataPath: DataPathStatus;
  private readonly sweepIntervalMs: number;
  private readonly retryIntervalMs: number;
  private timers: NodeJS.Timeout[] = [];
  /** Debug lines wanted (the log level): set by the caller. */
  debugging = false;
  private readonly startedAt: number;
  private closed = false;

  constructor(
    private initial: RuleOptions[],
    deps: UdpProxyDeps = {},
  ) {
    super();
    this.now = deps.now ?? Date.now;
    this.tick = deps.tick ?? deps.now ?? monotonicMs;
    let refused: string | undefined;
    if (deps.offload === false) this.dataPath = { batching: { state: 'off' } };
    else if ((refused = probeBatching(kernelRefusalStandIn('batching')))) this.dataPath = { batching: { state: 'refused', detail: refused } };
    else this.dataPath = { batching: { state: 'on' } };
    this.io = new ProxyIo(this.dataPath.batching!.state === 'on');
    this.sweepIntervalMs = deps.sweepIntervalMs ?? 1000;
    this.retryIntervalMs = deps.retryIntervalMs ?? 5000;
    this.startedAt = this.now();
  }

  private makeRule(opts: RuleOptions): ProxyRule {
    return new ProxyRule(opts, {
      io: this.io,
      now: this.now,
      tick: this.tick,
      warning: (key, msg) => this.emit('warning', key, msg),
      debug: (msg) => this.emit('debug', msg),
      debugging: () => this.debugging,
    });
  }

  /** Listens on every rule; rejects (closing what was opened) if one cannot. */
  async start(): Promise<void> {
    const b = this.dataPath.batching!;
    if (b.state === 'refused') this.emit('warning', 'batching', `the kernel refused recvmmsg/sendmmsg (${b.detail}): moving one datagram per system call`);
    else if (b.state === 'off') this.emit('info', 'data path: one datagram per system call (--no-offload)');
    else this.emit('info', `data path: batched, up to ${BATCH} datagrams per system call (recvmmsg/sendmmsg)`);
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

  /** After a burst (lib/memory.ts): the receive slots' pages back to the kernel. */
  releaseBuffers(): void {
    this.io.ring.discard();
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
    return { startedAt: this.startedAt, now: this.now(), dataPath: this.dataPath, batch: BATCH, rules: this.rules.map((r) => r.rule.status()) };
  }

  /** The rules' counters and how many sessions each holds, without the session list status() builds (metrics.ts). */
  ruleCounters(): RuleCounts[] {
    return this.rules.map(({ rule }) => rule.counts());
  }

  /** Closes every socket. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    for (const { rule } of this.rules) rule.close();
    this.io.free();
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
  return `${listen} -> ${up}${aliases}, idle ${o.idleTimeoutMs / 1000}s, at most ${o.maxSessions} sessions (${o.maxSessionsPerClient} per client)${o.allow.length ? `, ${o.allow.length} allowed prefixes` : ''}`;
}

export function createUdpProxy(rules: RuleOptions[], deps?: UdpProxyDeps): UdpProxy {
  return new UdpProxy(rules, deps);
}
