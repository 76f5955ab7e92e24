// UDP endpoints as the user writes them ("10.0.0.254:53", "[2001:db8::1]:53",
// ":53", "53", an alias "10.0.0.253" without a port) and as dgram reports
// them. Addresses are kept in the text form Node gives in rinfo.address
// (dotted quad; RFC 5952 for IPv6, as libuv's inet_ntop writes it), so the
// per-packet check is a string compare and allocates nothing.
import { InputError } from '../lib/input-error';
import { formatIPv4, formatIPv6, isIPv4Mapped, parseIPv4, parseIPv6 } from '../lib/ip';

export interface Endpoint {
  family: 4 | 6;
  address: string;
  /** Absent: any port (aliases only). */
  port?: number;
}

/** A listening endpoint; no address means every local address, IPv4 and IPv6. */
export interface ListenEndpoint {
  family?: 4 | 6;
  address?: string;
  port: number;
}

function parsePort(text: string, whole: string): number {
  if (!/^[0-9]{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw new InputError(`${JSON.stringify(whole)}: port ${JSON.stringify(text)} must be 1..65535`);
  }
  return Number(text);
}

function parseHost(text: string, whole: string): { family: 4 | 6; address: string } {
  try {
    if (text.includes(':')) {
      const bytes = parseIPv6(text);
      // An IPv4-mapped upstream would make us open an IPv6 socket to reach IPv4.
      if (isIPv4Mapped(bytes)) return { family: 4, address: formatIPv4(bytes.subarray(12)) };
      return { family: 6, address: formatIPv6(bytes) };
    }
    return { family: 4, address: formatIPv4(parseIPv4(text)) };
  } catch (err) {
    if (/^[a-z0-9.-]+$/i.test(text) && /[a-z]/i.test(text)) {
      throw new InputError(`${JSON.stringify(whole)}: give an IP address, not a host name (names are not resolved)`);
    }
    throw new InputError(`${JSON.stringify(whole)}: ${(err as Error).message}`);
  }
}

// Splits "HOST:PORT", "[V6]:PORT", "[V6]", "V6" and "HOST" into host and port text.
function split(text: string): { host: string; port?: string } {
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    if (end < 0) throw new InputError(`${JSON.stringify(text)}: missing "]"`);
    const rest = text.slice(end + 1);
    if (rest !== '' && !rest.startsWith(':')) throw new InputError(`${JSON.stringify(text)}: expected ":PORT" after "]"`);
    return { host: text.slice(1, end), port: rest === '' ? undefined : rest.slice(1) };
  }
  const colons = text.split(':').length - 1;
  if (colons > 1) return { host: text }; // a bare IPv6 address: no port
  if (colons === 1) return { host: text.slice(0, text.indexOf(':')), port: text.slice(text.indexOf(':') + 1) };
  return { host: text };
}

/** "HOST:PORT" (upstream) or, with optionalPort, "HOST[:PORT]" (reply alias). */
export function parseEndpoint(text: string, opts: { optionalPort?: boolean } = {}): Endpoint {
  if (typeof text !== 'string' || text === '') throw new InputError('expected "HOST:PORT"');
  const { host, port } = split(text);
  if (port === undefined && !opts.optionalPort) {
    throw new InputError(`${JSON.stringify(text)}: missing port (write "HOST:PORT", "[IPv6]:PORT" for IPv6)`);
  }
  const h = parseHost(host, text);
  return port === undefined ? h : { ...h, port: parsePort(port, text) };
}

/** "[ADDR:]PORT": "53", ":53", "0.0.0.0:53", "[::1]:53". */
export function parseListen(text: string): ListenEndpoint {
  if (typeof text !== 'string' || text === '') throw new InputError('expected "[ADDR:]PORT"');
  if (/^:?[0-9]+$/.test(text)) return { port: parsePort(text.replace(':', ''), text) };
  const { host, port } = split(text);
  if (port === undefined) throw new InputError(`${JSON.stringify(text)}: missing port (write "[ADDR:]PORT")`);
  return { ...parseHost(host, text), port: parsePort(port, text) };
}

export function formatEndpoint(e: { family?: 4 | 6; address?: string; port?: number }): string {
  const host = e.address === undefined ? '' : e.family === 6 ? `[${e.address}]` : e.address;
  if (e.port === undefined) return host;
  return `${host}:${e.port}`;
}
