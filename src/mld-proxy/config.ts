// mld-proxy's configuration: a JSON file (--config) with command-line flags
// on top, validated into one object. Every error names the field.
import { array, ConfigError, int, interfaceName, loadJsonFile, object, oneOf, optional, rejectUnknownKeys, str } from '../lib/config';
import { cidr, type Cidr } from '../lib/ip';
import { firewallMode, type FirewallMode } from '../lib/firewall';
import type { Level } from '../lib/log';
import { metricsSettings, type MetricsSettings } from '../lib/metrics-config';
import type { MldProxyOptions } from './daemon';

export interface MldProxyConfig {
  proxy: MldProxyOptions;
  log?: string;
  logLevel: Level;
  pidFile?: string;
  controlSocket: string;
  /** Only the metrics port is opened (mld-proxy listens to no peer). */
  firewall: FirewallMode;
  metrics?: MetricsSettings;
}

export const CONFIG_KEYS = [
  'upstream',
  'downstream',
  'timeout',
  'checkInterval',
  'prefixes',
  'maxAddresses',
  'state',
  'firewall',
  'metrics',
  'log',
  'logLevel',
  'pidFile',
  'controlSocket',
] as const;

export const DEFAULT_CONTROL_SOCKET = '/run/mld-proxy.sock';
const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

function prefix6(v: unknown, field: string): Cidr {
  const c = cidr(v, field);
  if (c.family !== 6) throw new ConfigError(field, `${JSON.stringify(v)} is not an IPv6 prefix`);
  return c;
}

/** Validates a raw config object (file merged with flags). */
export function parseMldConfig(raw: unknown, field = ''): MldProxyConfig {
  const o = object(raw, field);
  rejectUnknownKeys(o, field, CONFIG_KEYS);
  const upstream = o.upstream === undefined ? undefined : interfaceName(o.upstream, 'upstream');
  if (upstream === undefined) throw new ConfigError('upstream', 'missing: name the WAN interface (e.g. eth9)');
  const downstream = array(o.downstream ?? [], 'downstream', interfaceName, { max: 64 });
  if (downstream.length === 0) throw new ConfigError('downstream', 'missing: name at least one LAN interface (e.g. br0)');
  if (downstream.includes(upstream)) throw new ConfigError('downstream', `"${upstream}" is also the upstream interface`);
  const dup = downstream.find((d, i) => downstream.indexOf(d) !== i);
  if (dup) throw new ConfigError('downstream', `"${dup}" is named twice`);
  const timeout = optional(o.timeout, 'timeout', (v, f) => int(v, f, { min: 10, max: 7 * 86400 }), 1800);
  const checkInterval = optional(o.checkInterval, 'checkInterval', (v, f) => int(v, f, { min: 1, max: 3600 }), 30);
  if (checkInterval > timeout) throw new ConfigError('checkInterval', `${checkInterval} is longer than timeout (${timeout})`);
  return {
    proxy: {
      upstream,
      downstream,
      timeoutMs: timeout * 1000,
      checkIntervalMs: checkInterval * 1000,
      prefixes: array(o.prefixes ?? [], 'prefixes', prefix6, { max: 64 }),
      maxAddresses: optional(o.maxAddresses, 'maxAddresses', (v, f) => int(v, f, { min: 1, max: 1_000_000 }), 4096),
      stateFile: optional(o.state, 'state', str, undefined),
    },
    log: optional(o.log, 'log', str, undefined),
    logLevel: optional(o.logLevel, 'logLevel', (v, f) => oneOf(v, f, LEVELS), 'info'),
    pidFile: optional(o.pidFile, 'pidFile', str, undefined),
    controlSocket: optional(o.controlSocket, 'controlSocket', str, DEFAULT_CONTROL_SOCKET),
    firewall: optional(o.firewall, 'firewall', firewallMode, 'auto'),
    metrics: metricsSettings(o.metrics),
  };
}

/** Reads the config file (if any) and lays the flags over it. */
export function loadMldConfig(file: string | undefined, flags: Record<string, unknown>): MldProxyConfig {
  const base = file ? object(loadJsonFile(file), file) : {};
  const merged: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(flags)) if (v !== undefined) merged[k] = v;
  try {
    return parseMldConfig(merged, '');
  } catch (err) {
    // Name the file apart from the field: "mld.json: maxAdresses: unknown key".
    if (err instanceof ConfigError && file) throw new ConfigError(file, err.message);
    throw err;
  }
}
