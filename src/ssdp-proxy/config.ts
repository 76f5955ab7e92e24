// ssdp-proxy's configuration, from flags or a JSON file (--config):
//
//   { "lans": ["br0"], "peers": ["10.0.0.2", "10.0.0.3"], "keyFile": "/data/udm-proxies/ssdp-proxy.key",
//     "hub": false, "port": 1901 }
import fs from 'node:fs';
import { array, bool, ConfigError, int, interfaceName, loadJsonFile, object, oneOf, optional, port, rejectUnknownKeys, str } from '../lib/config';
import { ipv4, ipv6 } from '../lib/ip';
import { firewallMode, type FirewallMode } from '../lib/firewall';
import { metricsSettings, type MetricsSettings } from '../lib/metrics-config';
import type { Level } from '../lib/log';
import type { FilterRule } from './filter';
import { parseServiceType } from './mdns-filter';

export interface MdnsConfig {
  /** Service types relayed ("_airplay._tcp"); empty: all. */
  services: string[];
  /** mDNS packets a second taken from each LAN and from each peer (bursts of twice that). */
  rate: number;
}

export interface SsdpProxyConfig {
  lans: string[];
  peers: string[];
  key: Buffer;
  keyFile: string;
  hub: boolean;
  port: number;
  maxPending: number;
  /** Searches one LAN host may have waiting at once, so one host cannot fill the table. */
  maxPendingPerHost: number;
  /** mDNS relayed too (issue 14); undefined: off. */
  mdns?: MdnsConfig;
  /** outbound: from our LANs to the peers; inbound: from the peers to our LANs. */
  filters: { outbound?: FilterRule; inbound?: FilterRule };
  firewall: FirewallMode;
  metrics?: MetricsSettings;
  log?: string;
  logLevel: Level;
  pidFile?: string;
  controlSocket: string;
}

export const DEFAULT_CONTROL_SOCKET = '/run/ssdp-proxy.sock';
export const DEFAULT_PORT = 1901;
export const DEFAULT_MAX_PENDING = 1024;
/**
 * A control point searches a handful of STs, each two or three times, with MX up
 * to 5 s: a few dozen at once at most. 64 leaves room for that and still keeps
 * 16 flooding hosts from filling the default table.
 */
export const DEFAULT_MAX_PENDING_PER_HOST = 64;
/**
 * A household's mDNS is a few packets a second, with bursts of a few dozen when a
 * device starts or a browser opens; 100 a second per LAN and per peer carries
 * that with room, and bounds what a flood costs the relay and the VPN.
 */
export const DEFAULT_MDNS_RATE = 100;
const MIN_KEY_BYTES = 16;
const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
const TOP_KEYS = ['lans', 'peers', 'keyFile', 'hub', 'port', 'maxPending', 'maxPendingPerHost', 'mdns', 'filters', 'firewall', 'metrics', 'log', 'logLevel', 'pidFile', 'controlSocket'] as const;

/** The shared key: the file's contents, surrounding whitespace removed (so `openssl rand -hex 32 > FILE` works). */
export function readKeyFile(path: string, field: string): Buffer {
  let text: Buffer;
  try {
    text = fs.readFileSync(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError(field, `cannot read ${path}: ${e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.message}`);
  }
  const key = Buffer.from(text.toString('latin1').trim(), 'latin1');
  if (key.length < MIN_KEY_BYTES) {
    throw new ConfigError(field, `${path} holds ${key.length} bytes, at least ${MIN_KEY_BYTES} needed (make one: openssl rand -hex 32 > ${path})`);
  }
  return key;
}

/** A peer's VPN address, IPv4 or IPv6, in canonical form (the form Node reports a sender in). */
function peerAddress(v: unknown, field: string): string {
  if (typeof v === 'string' && v.includes(':')) {
    const a = ipv6(v, field);
    if (/^fe[89ab]/.test(a)) throw new ConfigError(field, `${a} is link-local; name the peer's VPN address (a link-local one needs an interface)`);
    if (a.startsWith('::ffff:')) throw new ConfigError(field, `${a} is an IPv4-mapped address; write it as IPv4`);
    return a;
  }
  return ipv4(v, field);
}

const pattern = (v: unknown, f: string) => str(v, f, { max: 256 });

function filterRule(v: unknown, field: string): FilterRule {
  const o = object(v, field);
  rejectUnknownKeys(o, field, ['allow', 'deny']);
  return { allow: array(o.allow ?? [], `${field}.allow`, pattern, { max: 64 }), deny: array(o.deny ?? [], `${field}.deny`, pattern, { max: 64 }) };
}

function filters(v: unknown, field: string): SsdpProxyConfig['filters'] {
  const o = object(v, field);
  rejectUnknownKeys(o, field, ['outbound', 'inbound']);
  return {
    outbound: optional(o.outbound, `${field}.outbound`, filterRule, undefined),
    inbound: optional(o.inbound, `${field}.inbound`, filterRule, undefined),
  };
}

function serviceType(v: unknown, field: string): string {
  const text = str(v, field, { max: 64 });
  try {
    parseServiceType(text);
  } catch (err) {
    throw new ConfigError(field, (err as Error).message);
  }
  return text;
}

/** `"mdns": true`, or `{ "services": ["_airplay._tcp"], "rate": 100 }`; false or absent: off. */
function mdnsConfig(v: unknown, field: string): MdnsConfig | undefined {
  if (v === true) return { services: [], rate: DEFAULT_MDNS_RATE };
  if (v === false) return undefined;
  const o = object(v, field);
  rejectUnknownKeys(o, field, ['services', 'rate']);
  const services = array(o.services ?? [], `${field}.services`, serviceType, { max: 64 });
  services.forEach((s, i) => {
    if (services.findIndex((t) => t.toLowerCase() === s.toLowerCase()) !== i) throw new ConfigError(`${field}.services[${i}]`, `"${s}" is named twice`);
  });
  return { services, rate: optional(o.rate, `${field}.rate`, (x, f) => int(x, f, { min: 1, max: 10000 }), DEFAULT_MDNS_RATE) };
}

export function parseSsdpProxyConfig(raw: unknown, field = 'config', readKey = readKeyFile): SsdpProxyConfig {
  const o = object(raw, field);
  rejectUnknownKeys(o, field, TOP_KEYS);
  const hub = optional(o.hub, 'hub', bool, false);
  const lans = array(o.lans ?? [], 'lans', interfaceName, { max: 32 });
  if (!hub && lans.length === 0) throw new ConfigError('lans', 'missing: name at least one LAN interface (or set hub)');
  lans.forEach((n, i) => {
    if (lans.indexOf(n) !== i) throw new ConfigError(`lans[${i}]`, `"${n}" is named twice`);
  });
  if (o.peers === undefined) throw new ConfigError('peers', 'missing: the relay addresses of the other sites');
  const peers = array(o.peers, 'peers', peerAddress, { min: 1, max: 64 });
  peers.forEach((p, i) => {
    if (peers.indexOf(p) !== i) throw new ConfigError(`peers[${i}]`, `${p} is named twice`);
  });
  if (o.keyFile === undefined) throw new ConfigError('keyFile', 'missing: a file with the key all sites share');
  const keyFile = str(o.keyFile, 'keyFile');
  return {
    lans,
    peers,
    key: readKey(keyFile, 'keyFile'),
    keyFile,
    hub,
    port: optional(o.port, 'port', port, DEFAULT_PORT),
    filters: optional(o.filters, 'filters', filters, {}),
    mdns: optional(o.mdns, 'mdns', mdnsConfig, undefined),
    firewall: optional(o.firewall, 'firewall', firewallMode, 'auto'),
    metrics: metricsSettings(o.metrics),
    maxPending: optional(o.maxPending, 'maxPending', (v, f) => int(v, f, { min: 1, max: 65536 }), DEFAULT_MAX_PENDING),
    maxPendingPerHost: optional(o.maxPendingPerHost, 'maxPendingPerHost', (v, f) => int(v, f, { min: 1, max: 65536 }), DEFAULT_MAX_PENDING_PER_HOST),
    log: optional(o.log, 'log', str, undefined),
    logLevel: optional(o.logLevel, 'logLevel', (v, f) => oneOf(v, f, LEVELS), 'info'),
    pidFile: optional(o.pidFile, 'pidFile', str, undefined),
    controlSocket: optional(o.controlSocket, 'controlSocket', str, DEFAULT_CONTROL_SOCKET),
  };
}

/** Reads the config file (if any) and lays the flags over it. */
export function loadSsdpProxyConfig(file: string | undefined, flags: Record<string, unknown>): SsdpProxyConfig {
  const base = file ? object(loadJsonFile(file), file) : {};
  const merged: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(flags)) if (v !== undefined) merged[k] = v;
  return parseSsdpProxyConfig(merged, file ?? 'config');
}
