// The `metrics` key every proxy's config takes, and its flags
// (--metrics-listen ADDR:PORT, --metrics-allow CIDR):
//   "metrics": { "listen": "192.168.1.1:9811", "allow": ["192.168.1.10/32"] }
// Off when absent. The address is an IP literal and only it is bound; a
// wildcard (0.0.0.0, ::) would put the endpoint on the WAN side too, so it
// needs an allow list of the scrapers' prefixes.
import { array, ConfigError, object, rejectUnknownKeys, show, str } from './config';
import { cidr, formatIPv4, formatIPv6, parseIPv4, parseIPv6, type Cidr } from './ip';

export interface MetricsSettings {
  address: string;
  family: 4 | 6;
  port: number;
  /** Scrapers' prefixes; empty: anyone who reaches the address. */
  allow: Cidr[];
}

const KEYS = ['listen', 'allow'] as const;
/** Bound on the allow list: a few scrapers, not a routing table. */
export const MAX_METRICS_ALLOW = 64;

export const isWildcard = (m: MetricsSettings) => m.address === '0.0.0.0' || m.address === '::';

/** "192.168.1.1:9811" or "[fd00::1]:9811"; the address is required (no ":9811"). */
export function metricsListen(v: unknown, field: string): Pick<MetricsSettings, 'address' | 'family' | 'port'> {
  const text = str(v, field);
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:[\]]+):(\d{1,5})$/.exec(text);
  if (!m) throw new ConfigError(field, `${show(text)}: expected ADDR:PORT or [IPv6]:PORT, with the address to listen on (e.g. "192.168.1.1:9811")`);
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new ConfigError(field, `${show(text)}: port must be 1..65535`);
  const v6 = m[1].includes(':');
  try {
    return v6 ? { address: formatIPv6(parseIPv6(m[1])), family: 6, port } : { address: formatIPv4(parseIPv4(m[1])), family: 4, port };
  } catch (err) {
    throw new ConfigError(field, `${show(text)}: ${/[a-z]/i.test(m[1]) && !v6 ? 'give an IP address, not a host name' : (err as Error).message}`);
  }
}

/** Validates `metrics` (undefined: off). */
export function metricsSettings(v: unknown, field = 'metrics'): MetricsSettings | undefined {
  if (v === undefined) return undefined;
  const o = object(v, field);
  rejectUnknownKeys(o, field, KEYS);
  if (o.listen === undefined) throw new ConfigError(`${field}.listen`, 'missing: the address and port to serve /metrics on, "ADDR:PORT"');
  const listen = metricsListen(o.listen, `${field}.listen`);
  const allow = array(o.allow ?? [], `${field}.allow`, cidr, { max: MAX_METRICS_ALLOW });
  const out = { ...listen, allow };
  if (isWildcard(out) && allow.length === 0) {
    throw new ConfigError(`${field}.allow`, `${listen.address} listens on every address, the WAN's too: give the scrapers' prefixes (--metrics-allow 192.168.1.0/24), or listen on a LAN address`);
  }
  const wrongFamily = allow.findIndex((c) => !isWildcard(out) && c.family !== listen.family);
  if (wrongFamily >= 0) throw new ConfigError(`${field}.allow[${wrongFamily}]`, `an IPv${allow[wrongFamily].family} prefix cannot reach ${listen.address}`);
  return out;
}

/** `<proxy> metrics` reads the exposition from this socket, beside the control socket: it needs no --metrics-listen. */
export function metricsSocketPath(controlSocket: string): string {
  return controlSocket.endsWith('.sock') ? `${controlSocket.slice(0, -5)}.metrics.sock` : `${controlSocket}.metrics`;
}

/** The `metrics` config value from the flags, or undefined when neither was given. */
export function metricsFlags(listen: string | undefined, allow: string[]): Record<string, unknown> | undefined {
  if (listen === undefined && allow.length === 0) return undefined;
  return { listen, allow: allow.length ? allow : undefined };
}

/** A metrics error from the flags, named as the flag ("--metrics-allow: ..."); undefined for any other field. */
export function metricsFlagMessage(err: ConfigError): string | undefined {
  const m = /^metrics\.(listen|allow)\b/.exec(err.field);
  return m ? `--metrics-${m[1]}: ${err.reason}` : undefined;
}

export const METRICS_USAGE = `  --metrics-listen ADDR:PORT  serve Prometheus metrics on GET /metrics here
                            (e.g. 192.168.1.1:9811; off unless given)
  --metrics-allow CIDR      only these scrapers; repeatable; required when
                            ADDR is 0.0.0.0 or ::`;
