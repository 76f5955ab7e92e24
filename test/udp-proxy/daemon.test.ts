// The daemon for real on loopback: its native sockets against Node's dgram as
// clients, upstream and aliases (127.0.0.0/8 gives as many addresses as
// wanted). The clock is injected; sweep() is called by hand.
import dgram from 'node:dgram';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseUdpProxyConfig } from '../../src/udp-proxy/config';
import { createUdpProxy, type UdpProxy } from '../../src/udp-proxy/daemon';
import { formatStatus } from '../../src/udp-proxy/status-format';

interface Peer {
  s: dgram.Socket;
  port: number;
  got: { msg: string; address: string; port: number }[];
  send(msg: string | Buffer, port: number, address?: string): void;
  close(): void;
}

const open: Peer[] = [];
function peer(address: string, port = 0): Promise<Peer> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
    const got: Peer['got'] = [];
    s.on('message', (m, r) => got.push({ msg: m.toString(), address: r.address, port: r.port }));
    s.once('error', reject);
    s.bind(port, address, () => {
      const p: Peer = {
        s,
        port: s.address().port,
        got,
        send: (msg, to, at = '127.0.0.1') => s.send(msg, to, at),
        close: () => s.close(),
      };
      open.push(p);
      resolve(p);
    });
  });
}

async function freePort(address = '127.0.0.1'): Promise<number> {
  const p = await peer(address);
  p.close();
  open.splice(open.indexOf(p), 1);
  return p.port;
}

const until = async (what: string, cond: () => boolean, ms = 2000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

async function setup(rules: Record<string, unknown>[], offload = true) {
  const clock = { t: 1_000_000 };
  const proxy = createUdpProxy(parseUdpProxyConfig({ proxy: rules }).rules, { now: () => clock.t, offload });
  const warnings: string[] = [];
  proxy.on('warning', (_k, m) => warnings.push(m));
  await proxy.start();
  const rule = (i = 0) => proxy.status().rules[i];
  const session = (client: string, i = 0) => rule(i).sessions.find((s) => s.client === client);
  return { proxy, clock, rule, session, warnings };
}

function done(proxy: UdpProxy) {
  proxy.close();
  proxy.close(); // twice is safe
  for (const p of open.splice(0)) p.close();
}

for (const offload of [true, false]) {
  const how = offload ? 'batched' : '--no-offload';
  test(`${how}: forwards to the upstream and back from the upstream or an alias; drops the rest`, async () => {
    const up = await peer('127.0.0.10');
    const alias = await peer('127.0.0.11');
    const any = await peer('127.0.0.12');
    const stranger = await peer('127.0.0.13');
    const wrongPort = await peer('127.0.0.11');
    const listen = await freePort();
    const { proxy, rule, session } = await setup(
      [{ name: 'dns', listen: `127.0.0.1:${listen}`, upstream: `127.0.0.10:${up.port}`, replyAlias: [`127.0.0.11:${alias.port}`, '127.0.0.12'] }],
      offload,
    );
    assert.match(formatStatus(proxy.status()), offload ? 'data path: batched' : 'data path: one datagram per system call (--no-offload)');
    const client = await peer('127.0.0.2');
    client.send('q1', listen);
    await until('the query upstream', () => up.got.length === 1);
    assert.equal([up.got[0].msg, up.got[0].address], ['q1', '127.0.0.1']);
    const sessionPort = up.got[0].port;
    assert.is(session(`127.0.0.2:${client.port}`)?.localPort, sessionPort);
    alias.send('a-from-alias', sessionPort);
    await until('first answer', () => client.got.length === 1);
    up.send('a-from-upstream', sessionPort);
    await until('second answer', () => client.got.length === 2);
    any.send('a-any-port', sessionPort);
    await until('third answer', () => client.got.length === 3);
    stranger.send('injected', sessionPort);
    wrongPort.send('wrong-port', sessionPort);
    await until('foreign counted', () => rule().counters.drops.foreignSource === 2);
    assert.equal(client.got.map((g) => [g.msg, g.address, g.port]), [
      ['a-from-alias', '127.0.0.1', listen],
      ['a-from-upstream', '127.0.0.1', listen],
      ['a-any-port', '127.0.0.1', listen],
    ]);
    const r = rule();
    assert.equal(r.replies, [1, 1, 1]);
    assert.is(r.sessions[0].foreign, 2);
    assert.equal(r.counters.toUpstream, { packets: 1, bytes: 2 });
    assert.equal(r.counters.toClient, { packets: 3, bytes: 'a-from-alias'.length + 'a-from-upstream'.length + 'a-any-port'.length });
    done(proxy);
  });

  test(`${how}: a burst of 500 datagrams of every size goes through, in order, each way`, async () => {
    const up = await peer('127.0.0.10');
    up.s.setRecvBufferSize(8 << 20);
    const listen = await freePort();
    const { proxy, rule } = await setup([{ listen: `127.0.0.1:${listen}`, upstream: `127.0.0.10:${up.port}` }], offload);
    const client = await peer('127.0.0.2');
    client.s.setRecvBufferSize(8 << 20);
    const sizes = Array.from({ length: 500 }, (_, i) => (i * 131) % 9000);
    sizes[7] = 65507; // the largest datagram there is
    for (let i = 0; i < sizes.length; i++) client.send(Buffer.alloc(sizes[i], i & 255), listen);
    await until('all upstream', () => up.got.length === 500, 5000);
    assert.equal(up.got.map((g) => g.msg.length), sizes);
    const port = up.got[0].port;
    // In bursts of 50: a session socket has the kernel's default buffer.
    for (let i = 0; i < 500; i++) {
      up.send(Buffer.from(`r${i}`), port);
      if (i % 50 === 49) await until(`${i + 1} back`, () => client.got.length === i + 1, 5000);
    }
    assert.equal(client.got.map((g) => g.msg), Array.from({ length: 500 }, (_, i) => `r${i}`));
    assert.is(rule().counters.toUpstream.packets, 500);
    assert.is(rule().sessions.length, 1);
    done(proxy);
  });
}

test('one upstream socket per client; each client its own; IPv6 on a dual-stack listener', async () => {
  const up = await peer('127.0.0.10');
  const listen = await freePort('::');
  const { proxy, rule } = await setup([{ listen: String(listen), upstream: `127.0.0.10:${up.port}` }]);
  const a = await peer('127.0.0.2');
  const b = await peer('127.0.0.2');
  const c = await peer('::1');
  a.send('a', listen);
  b.send('b', listen);
  a.send('c', listen);
  c.send('six', listen, '::1');
  await until('four upstream', () => up.got.length === 4);
  const ports = new Set(up.got.map((g) => g.port));
  assert.is(ports.size, 3);
  const clients = rule().sessions.map((s) => s.client).sort();
  assert.equal(clients, [`[::1]:${c.port}`, `[::ffff:127.0.0.2]:${a.port}`, `[::ffff:127.0.0.2]:${b.port}`].sort());
  const six = up.got.find((g) => g.msg === 'six')!;
  up.send('back to six', six.port);
  await until('the IPv6 client hears back', () => c.got.length === 1);
  assert.equal([c.got[0].msg, c.got[0].address], ['back to six', '::1']);
  done(proxy);
});

test('idle sessions are closed by sweep; the bound evicts the least recently used', async () => {
  const up = await peer('127.0.0.10');
  const listen = await freePort();
  const { proxy, rule, clock } = await setup([{ listen: `127.0.0.1:${listen}`, upstream: `127.0.0.10:${up.port}`, idleTimeout: 10, maxSessions: 2 }]);
  const c = [await peer('127.0.0.2'), await peer('127.0.0.3'), await peer('127.0.0.4')];
  for (const p of c) {
    p.send('x', listen);
    await until('upstream', () => up.got.length === c.indexOf(p) + 1);
    clock.t += 1000;
  }
  let r = rule();
  assert.equal(r.sessions.map((s) => s.client), [`127.0.0.4:${c[2].port}`, `127.0.0.3:${c[1].port}`]);
  assert.is(r.counters.sessionsEvicted, 1);
  clock.t += 8_000; // .3 idle 10 s, .4 idle 9 s
  proxy.sweep();
  r = rule();
  assert.equal(r.sessions.map((s) => s.client), [`127.0.0.4:${c[2].port}`]);
  assert.is(r.counters.sessionsExpired, 1);
  // A reply refreshes the session too
  up.send('r', up.got[2].port);
  await until('reply', () => c[2].got.length === 1);
  clock.t += 9_999;
  proxy.sweep();
  assert.is(rule().sessions.length, 1);
  done(proxy);
});

test('one host spraying source ports evicts only its own sessions (maxSessionsPerClient)', async () => {
  const up = await peer('127.0.0.10');
  const listen = await freePort();
  const { proxy, rule } = await setup([{ listen: `127.0.0.1:${listen}`, upstream: `127.0.0.10:${up.port}`, maxSessions: 8, maxSessionsPerClient: 3 }]);
  const victim = await peer('127.0.0.9');
  victim.send('mine', listen);
  await until('victim upstream', () => up.got.length === 1);
  const sprayers = await Promise.all(Array.from({ length: 20 }, () => peer('127.0.0.66')));
  for (const s of sprayers) s.send('spray', listen);
  await until('spray counted', () => rule().counters.toUpstream.packets === 21);
  const r = rule();
  assert.is(r.sessions.length, 4, "the victim's and 3 of the sprayer's");
  assert.is(r.counters.sessionsEvictedPerClient, 17);
  assert.is(r.counters.sessionsEvicted, 0);
  up.send('still yours', up.got[0].port);
  await until('the victim keeps its session', () => victim.got.length === 1);
  done(proxy);
});

test('clients outside the allow-list open no session', async () => {
  const up = await peer('127.0.0.10');
  const listen = await freePort('::');
  const { proxy, rule } = await setup([{ listen: String(listen), upstream: `127.0.0.10:${up.port}`, allow: ['127.0.0.2/32', '::1/128'] }]);
  const no = await peer('127.0.0.3');
  const yes = await peer('127.0.0.2');
  const six = await peer('::1');
  no.send('no', listen);
  yes.send('yes', listen);
  six.send('yes6', listen, '::1');
  await until('two allowed', () => up.got.length === 2);
  await until('one refused', () => rule().counters.drops.notAllowed === 1);
  assert.is(rule().sessions.length, 2);
  done(proxy);
});

test('without aliases the session socket is connected: an ICMP port unreachable is counted, not fatal', async () => {
  const closedPort = await freePort();
  const listen = await freePort();
  const { proxy, rule, session } = await setup([{ listen: `127.0.0.1:${listen}`, upstream: `127.0.0.1:${closedPort}` }]);
  const client = await peer('127.0.0.2');
  client.send('q', listen);
  await until('the error', () => {
    const s = session(`127.0.0.2:${client.port}`);
    return !!s && s.socketErrors + s.sendErrors >= 1;
  });
  assert.is(session(`127.0.0.2:${client.port}`)!.lastError, 'ECONNREFUSED');
  client.send('q2', listen);
  await until('counted', () => rule().counters.toUpstream.packets === 2);
  done(proxy);
});

test('start fails when a rule cannot listen, naming the address and the cause', async () => {
  const taken = await peer('127.0.0.1');
  const proxy = createUdpProxy(parseUdpProxyConfig({ proxy: [{ listen: `127.0.0.1:${taken.port}`, upstream: '127.0.0.10:53' }] }).rules);
  await proxy.start().then(
    () => assert.unreachable('should fail'),
    (err) => assert.is(err.message, `cannot listen on 127.0.0.1:${taken.port}: EADDRINUSE`),
  );
  done(proxy);
});

test('reload keeps the sessions of unchanged rules and closes the others', async () => {
  const up = await peer('127.0.0.10');
  const [la, lb, lc] = [await freePort(), await freePort(), await freePort()];
  const a = { name: 'a', listen: `127.0.0.1:${la}`, upstream: `127.0.0.10:${up.port}` };
  const b = { name: 'b', listen: `127.0.0.1:${lb}`, upstream: `127.0.0.10:${up.port}` };
  const { proxy, rule } = await setup([a, b]);
  const client = await peer('127.0.0.2');
  client.send('x', la);
  client.send('y', lb);
  await until('both', () => up.got.length === 2);
  const before = rule(0).sessions.map((s) => s.localPort);
  await proxy.reconfigure(parseUdpProxyConfig({ proxy: [a, { ...b, idleTimeout: 5 }, { name: 'c', listen: `127.0.0.1:${lc}`, upstream: `127.0.0.10:${up.port}` }] }).rules);
  const rules = proxy.status().rules;
  assert.equal(rules.map((r) => [r.name, r.sessions.length, r.listening]), [['a', 1, true], ['b', 0, true], ['c', 0, true]]);
  assert.equal(rule(0).sessions.map((s) => s.localPort), before, 'the same socket');
  assert.is(rules[0].counters.toUpstream.packets, 1, 'counters of an unchanged rule survive');
  client.send('z', lb);
  await until('the changed rule forwards again', () => up.got.length === 3);
  done(proxy);
});

test('status renders rules, replies per alias, drops and sessions', async () => {
  const up = await peer('127.0.0.10');
  const alias = await peer('127.0.0.11');
  const evil = await peer('127.0.0.13');
  const listen = await freePort();
  const { proxy, clock, rule } = await setup([{ name: 'dns', listen: `127.0.0.1:${listen}`, upstream: `127.0.0.10:${up.port}`, replyAlias: [`127.0.0.11:${alias.port}`, '127.0.0.12'] }]);
  const client = await peer('127.0.0.2');
  client.send('q', listen);
  await until('upstream', () => up.got.length === 1);
  alias.send('a', up.got[0].port);
  evil.send('evil', up.got[0].port);
  await until('both', () => client.got.length === 1 && rule().counters.drops.foreignSource === 1);
  clock.t += 3000;
  const out = formatStatus(proxy.status());
  assert.match(out, `rule dns: 127.0.0.1:${listen} -> 127.0.0.10:${up.port}`);
  assert.match(out, `replies from:  127.0.0.10:${up.port} 0, 127.0.0.11:${alias.port} 1, 127.0.0.12 (any port) 0`);
  assert.match(out, 'sessions:      1 of at most 4096 (256 per client), closed after 60s idle; 1 opened, 0 expired, 0 evicted');
  assert.match(out, '1 from foreign sources');
  assert.match(out, new RegExp(`^  127\\.0\\.0\\.2:${client.port} +${up.got[0].port} +3s ago +1 +1 +1 +0$`, 'm'));
  done(proxy);
});

test.run();
