import net from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseCidr } from '../../src/lib/ip';
import { allowed, MAX_CONNECTIONS, serveMetrics, type MetricsServer } from '../../src/lib/metrics-server';

// The server on loopback, port chosen by the kernel; raw requests over net so
// malformed ones reach it as sent.
async function start(allow: string[] = [], render = (om: boolean) => (om ? 'x 1\n# EOF\n' : 'x 1\n')): Promise<{ server: MetricsServer; port: number; renders: () => number }> {
  let n = 0;
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const server = await serveMetrics({ settings: { address: '127.0.0.1', family: 4, port, allow: allow.map(parseCidr) }, render: (om) => (n++, render(om)) });
  return { server, port, renders: () => n };
}

function raw(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    s.on('data', (c) => chunks.push(c));
    s.on('error', () => {});
    s.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    s.write(text);
    setTimeout(() => s.end(), 200);
  });
}

const statusOf = (reply: string) => Number(/^HTTP\/1\.1 (\d+)/.exec(reply)?.[1] ?? 0);

test('GET /metrics: the text format, or OpenMetrics when asked', async () => {
  const { server, port } = await start();
  try {
    const text = await raw(port, 'GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.is(statusOf(text), 200);
    assert.match(text, 'Content-Type: text/plain; version=0.0.4');
    assert.match(text, '\r\n\r\nx 1\n');
    const om = await raw(port, 'GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: application/openmetrics-text; version=1.0.0\r\nConnection: close\r\n\r\n');
    assert.match(om, 'Content-Type: application/openmetrics-text; version=1.0.0');
    assert.match(om, '# EOF');
    assert.equal(server.counters.requests, { 200: 2 });
  } finally {
    server.close();
  }
});

test('anything else is an HTTP error and a counter', async () => {
  const { server, port } = await start();
  try {
    assert.is(statusOf(await raw(port, 'POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n')), 405);
    assert.is(statusOf(await raw(port, 'HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n')), 405);
    assert.is(statusOf(await raw(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')), 404);
    assert.is(statusOf(await raw(port, 'GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello')), 413);
    assert.is(statusOf(await raw(port, 'GARBAGE\r\n\r\n')), 400);
    assert.is(statusOf(await raw(port, `GET /metrics HTTP/1.1\r\nHost: x\r\nX: ${'a'.repeat(5000)}\r\n\r\n`)), 431);
    assert.equal(server.counters.requests, { 400: 1, 404: 1, 405: 2, 413: 1, 431: 1 });
  } finally {
    server.close();
  }
});

test('a peer outside the allow list is closed at accept and counted', async () => {
  const { server, port } = await start(['192.0.2.0/24']);
  try {
    assert.is(await raw(port, 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'), '');
    assert.is(server.counters.refused.notAllowed, 1);
  } finally {
    server.close();
  }
});

test('past the connection cap Node closes new connections and they are counted', async () => {
  const { server, port } = await start();
  const held: net.Socket[] = [];
  try {
    for (let i = 0; i < MAX_CONNECTIONS; i++) {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => {});
      held.push(s);
      await new Promise((r) => s.once('connect', r));
    }
    await new Promise((r) => setTimeout(r, 50));
    assert.is(await raw(port, 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'), '');
    assert.is(server.counters.refused.tooMany, 1);
  } finally {
    for (const s of held) s.destroy();
    server.close();
  }
});

test('scrapes in a loop render at most once per 250 ms', async () => {
  const { server, port, renders } = await start();
  try {
    for (let i = 0; i < 5; i++) await raw(port, 'GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.ok(renders() < 5, `${renders()} renders`);
  } finally {
    server.close();
  }
});

test('allowed(): prefixes of either family, IPv4-mapped peers as IPv4', () => {
  const allow = ['192.168.1.0/24', 'fd00::/64'].map(parseCidr);
  assert.ok(allowed(allow, '192.168.1.7'));
  assert.ok(allowed(allow, '::ffff:192.168.1.7'));
  assert.ok(allowed(allow, 'fd00::5'));
  assert.not.ok(allowed(allow, '192.168.2.7'));
  assert.not.ok(allowed(allow, undefined));
  assert.ok(allowed([], '203.0.113.1'));
});

test.run();
