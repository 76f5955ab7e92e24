// The HTTP side of the metrics (issue 22): GET /metrics and nothing else, on
// the one address given, from the allowed scrapers only. It is small and
// bounded, since it runs in the proxy's own loop on a gateway: at most
// MAX_CONNECTIONS at once (Node closes the others at accept), 4 KiB of
// headers, 5 s to send them, 10 s idle between a keep-alive connection's
// requests, no body; anything else is an HTTP error and a counter, never a
// log line. The body is made at most once per RENDER_REUSE_MS and format, so
// a scraper in a loop costs a copy, not a walk of the tables.
import type http from 'node:http';
import type net from 'node:net';
import { cidrContains, parseIPv4, parseIPv6, type Cidr } from './ip';
import { counter, OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE, wantsOpenMetrics, type MetricFamily } from './metrics';
import type { MetricsSettings } from './metrics-config';

export const MAX_CONNECTIONS = 8;
export const MAX_HEADER_BYTES = 4096;
export const HEADERS_TIMEOUT_MS = 5000;
export const IDLE_TIMEOUT_MS = 10_000;
const RENDER_REUSE_MS = 250;

/** Requests by HTTP status; connections refused by reason. Label values are these keys only. */
export interface MetricsServerCounters {
  requests: Record<string, number>;
  refused: { notAllowed: number; tooMany: number };
}

export interface MetricsServer {
  readonly counters: MetricsServerCounters;
  close(): void;
}

export interface MetricsServerOptions {
  settings: MetricsSettings;
  /** The exposition: called for a scrape (not more than once per 250 ms per format). */
  render: (openMetrics: boolean) => string;
  now?: () => number;
}

/** Is a peer's address inside the allow list (empty: everyone)? IPv4-mapped addresses count as IPv4. */
export function allowed(allow: Cidr[], remote: string | undefined): boolean {
  if (allow.length === 0) return true;
  if (!remote) return false;
  let bytes: Uint8Array;
  try {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remote);
    bytes = mapped ? parseIPv4(mapped[1]) : remote.includes(':') ? parseIPv6(remote.split('%')[0]) : parseIPv4(remote);
  } catch {
    return false;
  }
  return allow.some((c) => cidrContains(c, bytes));
}

export async function serveMetrics(opts: MetricsServerOptions): Promise<MetricsServer> {
  // Loaded here, not at the top: a daemon without --metrics-listen never loads Node's HTTP stack.
  const http = require('node:http') as typeof import('node:http');
  const { settings } = opts;
  const now = opts.now ?? Date.now;
  const counters: MetricsServerCounters = { requests: {}, refused: { notAllowed: 0, tooMany: 0 } };
  const count = (code: number) => (counters.requests[code] = (counters.requests[code] ?? 0) + 1);
  const cache = [
    { at: -Infinity, body: '' },
    { at: -Infinity, body: '' },
  ];

  const server = http.createServer({ maxHeaderSize: MAX_HEADER_BYTES, requestTimeout: HEADERS_TIMEOUT_MS * 2, headersTimeout: HEADERS_TIMEOUT_MS, keepAliveTimeout: IDLE_TIMEOUT_MS });
  server.maxConnections = MAX_CONNECTIONS;
  server.maxHeadersCount = 32;
  server.maxRequestsPerSocket = 1000;
  // The socket idles no longer than this in any state (a half-sent request included).
  server.timeout = IDLE_TIMEOUT_MS;
  server.on('drop', () => counters.refused.tooMany++);
  server.on('connection', (socket: net.Socket) => {
    if (!allowed(settings.allow, socket.remoteAddress)) {
      counters.refused.notAllowed++;
      socket.destroy();
    }
  });
  // A request Node could not parse (or too large, or too slow): an error status, counted, then closed.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
    const code = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    count(code);
    if (socket.writable && !socket.destroyed) socket.end(`HTTP/1.1 ${code} ${http.STATUS_CODES[code]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    else socket.destroy();
  });
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const fail = (code: number, extra: Record<string, string> = {}) => {
      count(code);
      res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close', ...extra });
      res.end(`${http.STATUS_CODES[code]}\n`);
      req.socket.destroySoon?.();
    };
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics') return fail(404);
    if (req.method !== 'GET') return fail(405, { Allow: 'GET' });
    if (req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0) return fail(413);
    const om = wantsOpenMetrics(req.headers.accept);
    const slot = cache[om ? 1 : 0];
    const t = now();
    let body: string;
    try {
      if (t - slot.at >= RENDER_REUSE_MS || t < slot.at) {
        slot.body = opts.render(om);
        slot.at = t;
      }
      body = slot.body;
    } catch (err) {
      return fail(500);
    }
    count(200);
    res.writeHead(200, { 'Content-Type': om ? OPENMETRICS_CONTENT_TYPE : TEXT_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: settings.address, port: settings.port, ipv6Only: settings.family === 6 && settings.address !== '::' }, () => {
      server.removeListener('error', reject);
      resolve();
    });
  }).catch((err: Error) => {
    throw new Error(`cannot serve metrics on ${hostPort(settings)}: ${err.message}`);
  });
  server.on('error', () => {}); // after listen, errors are a connection's own

  let closed = false;
  return {
    counters,
    close() {
      if (closed) return;
      closed = true;
      server.close();
      server.closeAllConnections();
    },
  };
}

export const hostPort = (s: Pick<MetricsSettings, 'address' | 'family' | 'port'>) => (s.family === 6 ? `[${s.address}]:${s.port}` : `${s.address}:${s.port}`);

/** The server's own counters as metrics (shared by every proxy: udm_proxies_*). */
export function metricsServerMetrics(c: MetricsServerCounters): MetricFamily[] {
  return [
    counter('udm_proxies_metrics_requests_total', 'HTTP requests to the metrics endpoint, by status code (200 is a scrape; anything else was refused).', Object.keys(c.requests).map((code) => ({ labels: { code }, value: c.requests[code] }))),
    counter('udm_proxies_metrics_connections_refused_total', 'Connections to the metrics endpoint closed at once: not_allowed (outside the allow list), too_many (past the connection cap).', [
      { labels: { reason: 'not_allowed' }, value: c.refused.notAllowed },
      { labels: { reason: 'too_many' }, value: c.refused.tooMany },
    ]),
  ];
}
