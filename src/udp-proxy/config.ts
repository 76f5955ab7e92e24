// udp-proxy's configuration: one rule from flags, or several from a JSON file
// (--config). A user of the original Caddy plugin finds its words: the rules
// are the "proxy" list and each rule may say "reply-addr-alias".
//
//   { "proxy": [ { "listen": ":12345", "upstream": "10.0.0.254:12345",
//                  "reply-addr-alias": ["10.0.0.253:12345", "10.0.0.252"] } ] }
import { array, bool, ConfigError, int, loadJsonFile, object, oneOf, optional, rejectUnknownKeys, str } from '../lib/config';
import { cidr, formatCidr, type Cidr } from '../lib/ip';
import { firewallMode, type FirewallMode } from '../lib/firewall';
import type { Level } from '../lib/log';
import { metricsSettings, type MetricsSettings } from '../lib/metrics-config';
import { formatEndpoint, parseEndpoint, parseListen, type Endpoint, type ListenEndpoint } from './endpoint';

export interface RuleOptions {
  name: string;
  listen: ListenEndpoint;
  upstream: Endpoint & { port: number };
  aliases: Endpoint[];
  idleTimeoutMs: number;
  maxSessions: number;
  /** Sessions one client address may hold; past it its own oldest goes. */
  maxSessionsPerClient: number;
  /** Empty: every client. */
  allow: Cidr[];
}

export interface UdpProxyConfig {
  rules: RuleOptions[];
  /** Batched I/O (false: --no-offload, one datagram per system call). */
  offload: boolean;
  firewall: FirewallMode;
  metrics?: MetricsSettings;
  log?: string;
  logLevel: Level;
  pidFile?: string;
  controlSocket: string;
}

export const DEFAULT_CONTROL_SOCKET = '/run/udp-proxy.sock';
export const DEFAULT_IDLE_TIMEOUT = 60;
export const DEFAULT_MAX_SESSIONS = 4096;
// One host may hold a sixteenth of the default bound: a resolver or a NAT with
// many source ports still gets plenty, a host spraying ports churns only its own.
export const DEFAULT_MAX_SESSIONS_PER_CLIENT = 256;
const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
const TOP_KEYS = ['proxy', 'offload', 'firewall', 'metrics', 'log', 'logLevel', 'pidFile', 'controlSocket'] as const;
const RULE_KEYS = ['name', 'listen', 'upstream', 'replyAlias', 'reply-addr-alias', 'idleTimeout', 'maxSessions', 'maxSessionsPerClient', 'allow'] as const;

export function defaultRuleName(listen: ListenEndpoint, upstream: Endpoint): string {
  return `${formatEndpoint(listen)} -> ${formatEndpoint(upstream)}`;
}

function wrap<T>(field: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(field, (err as Error).message);
  }
}

// A single string or a list: the Caddyfile took several aliases on one line.
function stringList(v: unknown, field: string): string[] {
  if (typeof v === 'string') return v.split(/\s+/).filter(Boolean);
  return array(v, field, str, { max: 64 });
}

export function parseRule(raw: unknown, field: string): RuleOptions {
  const o = object(raw, field);
  rejectUnknownKeys(o, field, RULE_KEYS);
  const f = (k: string) => `${field}.${k}`;
  if (o.listen === undefined) throw new ConfigError(f('listen'), 'missing: the port to listen on, "[ADDR:]PORT"');
  if (o.upstream === undefined) throw new ConfigError(f('upstream'), 'missing: where to send, "HOST:PORT"');
  const listen = wrap(f('listen'), () => parseListen(typeof o.listen === 'number' ? String(o.listen) : str(o.listen, f('listen'))));
  const upstream = wrap(f('upstream'), () => parseEndpoint(str(o.upstream, f('upstream')))) as Endpoint & { port: number };
  if (o.replyAlias !== undefined && o['reply-addr-alias'] !== undefined) {
    throw new ConfigError(f('replyAlias'), 'give replyAlias or reply-addr-alias, not both');
  }
  const aliasKey = o.replyAlias !== undefined ? 'replyAlias' : 'reply-addr-alias';
  const aliasText = stringList(o[aliasKey] ?? [], f(aliasKey));
  const aliases = aliasText.map((t, i) => {
    const af = `${f(aliasKey)}[${i}]`;
    const a = wrap(af, () => parseEndpoint(t, { optionalPort: true }));
    // The session's socket is of the upstream's family; it never hears the other one.
    if (a.family !== upstream.family) throw new ConfigError(af, `${JSON.stringify(t)} is IPv${a.family} but the upstream is IPv${upstream.family}`);
    return a;
  });
  const idle = optional(o.idleTimeout, f('idleTimeout'), (v, k) => int(v, k, { min: 1, max: 86400 }), DEFAULT_IDLE_TIMEOUT);
  const maxSessions = optional(o.maxSessions, f('maxSessions'), (v, k) => int(v, k, { min: 1, max: 1_000_000 }), DEFAULT_MAX_SESSIONS);
  return {
    name: optional(o.name, f('name'), (v, k) => str(v, k, { max: 64 }), defaultRuleName(listen, upstream)),
    listen,
    upstream,
    aliases,
    idleTimeoutMs: idle * 1000,
    maxSessions,
    maxSessionsPerClient: optional(
      o.maxSessionsPerClient,
      f('maxSessionsPerClient'),
      (v, k) => int(v, k, { min: 1, max: 1_000_000 }),
      Math.min(DEFAULT_MAX_SESSIONS_PER_CLIENT, maxSessions),
    ),
    allow: array(o.allow ?? [], f('allow'), cidr, { max: 256 }),
  };
}

/** Validates a raw config object (file merged with flags). */
export function parseUdpProxyConfig(raw: unknown, field = 'config'): UdpProxyConfig {
  const o = object(raw, field);
  rejectUnknownKeys(o, field, TOP_KEYS);
  if (o.proxy === undefined) throw new ConfigError('proxy', 'missing: give --listen and --upstream, or a "proxy" list of rules in --config');
  const rules = array(o.proxy, 'proxy', parseRule, { min: 1, max: 256 });
  const seenName = new Map<string, number>();
  const seenListen = new Map<string, number>();
  rules.forEach((r, i) => {
    if (seenName.has(r.name)) throw new ConfigError(`proxy[${i}].name`, `${JSON.stringify(r.name)} is also the name of proxy[${seenName.get(r.name)}]`);
    seenName.set(r.name, i);
    for (const [key, j] of seenListen) {
      const [addr, port] = [key.slice(0, key.lastIndexOf(' ')), Number(key.slice(key.lastIndexOf(' ') + 1))];
      const overlap = port === r.listen.port && (addr === '' || r.listen.address === undefined || addr === r.listen.address);
      if (overlap) throw new ConfigError(`proxy[${i}].listen`, `port ${r.listen.port} is also where proxy[${j}] listens`);
    }
    seenListen.set(`${r.listen.address ?? ''} ${r.listen.port}`, i);
  });
  return {
    rules,
    offload: optional(o.offload, 'offload', bool, true),
    firewall: optional(o.firewall, 'firewall', firewallMode, 'auto'),
    metrics: metricsSettings(o.metrics),
    log: optional(o.log, 'log', str, undefined),
    logLevel: optional(o.logLevel, 'logLevel', (v, f) => oneOf(v, f, LEVELS), 'info'),
    pidFile: optional(o.pidFile, 'pidFile', str, undefined),
    controlSocket: optional(o.controlSocket, 'controlSocket', str, DEFAULT_CONTROL_SOCKET),
  };
}

/** Reads the config file (if any) and lays the flags over it. */
export function loadUdpProxyConfig(file: string | undefined, flags: Record<string, unknown>): UdpProxyConfig {
  const base = file ? object(loadJsonFile(file), file) : {};
  const merged: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(flags)) if (v !== undefined) merged[k] = v;
  return parseUdpProxyConfig(merged, file ?? 'config');
}

/** Equal keys: the rule is unchanged by a reload and keeps its sessions. */
export function ruleKey(r: RuleOptions): string {
  return JSON.stringify([r.name, r.listen, r.upstream, r.aliases, r.idleTimeoutMs, r.maxSessions, r.maxSessionsPerClient, r.allow.map(formatCidr)]);
}
