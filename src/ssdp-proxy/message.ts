// SSDP messages (UPnP Device Architecture 2.0 s1): HTTP-over-UDP, a start line
// and headers, CRLF-terminated, no body. Header names are case-insensitive
// (RFC 7230 s3.2); we keep them as sent so a relayed message is unchanged.
import { InputError } from '../lib/input-error';

/** Larger than any SSDP message seen in practice; UDA limits a datagram to its MTU. */
export const MAX_SSDP_BYTES = 8192;
const MAX_HEADERS = 64;

export type SsdpKind = 'search' | 'notify' | 'response';

export interface SsdpMessage {
  kind: SsdpKind;
  startLine: string;
  headers: [name: string, value: string][];
}

export class SsdpParseError extends InputError {
  name = 'SsdpParseError';
}

export function header(m: SsdpMessage, name: string): string | undefined {
  const want = name.toLowerCase();
  for (const [k, v] of m.headers) if (k.toLowerCase() === want) return v;
  return undefined;
}

function kindOf(startLine: string): SsdpKind {
  if (/^M-SEARCH \* HTTP\/1\.[01]$/.test(startLine)) return 'search';
  if (/^NOTIFY \* HTTP\/1\.[01]$/.test(startLine)) return 'notify';
  if (/^HTTP\/1\.[01] 200( .*)?$/.test(startLine)) return 'response';
  throw new SsdpParseError(`unknown start line ${JSON.stringify(startLine.slice(0, 40))}`);
}

export function parseSsdp(buf: Uint8Array): SsdpMessage {
  if (buf.length > MAX_SSDP_BYTES) throw new SsdpParseError(`${buf.length} bytes, at most ${MAX_SSDP_BYTES} allowed`);
  if (buf.length === 0) throw new SsdpParseError('empty datagram');
  const text = Buffer.from(buf.buffer, buf.byteOffset, buf.length).toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  // Some devices end the last header with a single CRLF; the headers are complete either way.
  const head = end === -1 ? (text.endsWith('\r\n') ? text.slice(0, -2) : text) : text.slice(0, end);
  if (end !== -1 && end + 4 !== text.length && text.slice(end + 4).trim() !== '') {
    throw new SsdpParseError('unexpected body after the headers');
  }
  const lines = head.split('\r\n');
  const startLine = lines[0];
  const kind = kindOf(startLine);
  if (lines.length - 1 > MAX_HEADERS) throw new SsdpParseError(`${lines.length - 1} headers, at most ${MAX_HEADERS} allowed`);
  const headers: [string, string][] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (/[\r\n\0]/.test(line)) throw new SsdpParseError(`header line ${i}: bare CR, LF or NUL`);
    const colon = line.indexOf(':');
    // RFC 7230 s3.2: field-name is a token, no whitespace before the colon.
    if (colon <= 0 || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(line.slice(0, colon))) {
      throw new SsdpParseError(`header line ${i}: not "Name: value"`);
    }
    headers.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
  }
  return { kind, startLine, headers };
}

export function serializeSsdp(m: SsdpMessage): Buffer {
  for (const [k, v] of m.headers) {
    if (/[\r\n:]/.test(k) || /[\r\n]/.test(v)) throw new SsdpParseError(`header ${JSON.stringify(k)} contains CR, LF or a colon`);
  }
  const text = [m.startLine, ...m.headers.map(([k, v]) => `${k}: ${v}`)].join('\r\n') + '\r\n\r\n';
  const out = Buffer.from(text, 'latin1');
  if (out.length > MAX_SSDP_BYTES) throw new SsdpParseError(`${out.length} bytes, at most ${MAX_SSDP_BYTES} allowed`);
  return out;
}

/** MX of a multicast M-SEARCH (UDA 2.0 s1.3.2): 1..5 s; larger is read as 5, missing or bad as 1. */
export function searchWaitSeconds(m: SsdpMessage): number {
  const mx = header(m, 'MX');
  if (mx === undefined || !/^\d{1,4}$/.test(mx)) return 1;
  return Math.min(5, Math.max(1, Number(mx)));
}
