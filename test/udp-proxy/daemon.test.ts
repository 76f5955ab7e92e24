// The daemon with fake sockets: no real network, no timers (sweep is called by hand).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EventEmitter } from 'node:events';
import type dgram from 'node:dgram';
import { parseUdpProxyConfig } from '../../src/udp-proxy/config';
import { createUdpProxy } from '../../src/udp-proxy/daemon';
import { formatStatus } from '../../src/udp-proxy/status-format';

interface Sent {
  msg: Buffer;
  port: number;
  address: string;
}

class FakeSocket extends EventEmitter {
  static nextPort = 40000;
  sent: Sent[] = [];
  closed = false;
  port = 0;
  bindError?: NodeJS.ErrnoException;
  sendError?: NodeJS.ErrnoException;
  constructor(readonly type: string) {
    super();
  }
  bind(opts: number | { port: number }, cb: () => void) {
    if (this.bindError) {
      queueMicrotask(() => this.emit('error', this.bindError));
      return this;
    }
    this.port = typeof opts === 'number' ? (opts || FakeSocket.nextPort++) : opts.port;
    queueMicrotask(cb);
    return this;
  }
  address() {
    return { address: '0.0.0.0', family: 'IPv4', port: this.port };
  }
  remote?: { port: number; address: string };
  connect(port: number, address: string, cb: () => void) {
    if (this.remote) throw new Error('connected twice');
    this.remote = { port, address };
    queueMicrotask(() => {
      this.connected = true;
      cb();
    });
  }
  send(msg: Buffer, ...rest: any[]) {
    let cb: (err: Error | null) => void;
    if (typeof rest[0] === 'function') {
      if (!this.connected) throw new Error('send without address on an unconnected socket');
      cb = rest[0];
      this.sent.push({ msg, ...this.remote! });
    } else {
      if (this.connected) throw new Error('ERR_SOCKET_DGRAM_IS_CONNECTED');
      cb = rest[2];
      this.sent.push({ msg, port: rest[0], address: rest[1] });
    }
    const err = this.sendError ?? null;
    queueMicrotask(() => cb(err));
  }
  connected = false;
  setRecvBufferSize() {}
  close() {
    if (this.closed) throw new Error('Not running');
    this.closed = true;
  }
  deliver(text: string, address: string, port: number) {
    this.emit('message', Buffer.from(text), { address, port, family: address.includes(':') ? 'IPv6' : 'IPv4', size: text.length });
  }
}

function setup(raw: unknown) {
  const sockets: FakeSocket[] = [];
  const clock = { t: 1_000_000 };
  const proxy = createUdpProxy(parseUdpProxyConfig(raw).rules, {
    now: () => clock.t,
    createSocket: (o: dgram.SocketOptions) => {
      const s = new FakeSocket(o.type);
      sockets.push(s);
      return s as unknown as dgram.Socket;
    },
  });
  const warnings: string[] = [];
  proxy.on('warning', (_k, m) => warnings.push(m));
  const listener = (i = 0) => sockets.filter((s) => s.port !== 0 && s.port < 40000)[i];
  const upstreamOf = (client: string, port: number) => {
    const st = proxy.status().rules.flatMap((r) => r.sessions).find((s) => s.client === `${client}:${port}` || s.client === `[${client}]:${port}`);
    return sockets.find((s) => s.port === st?.localPort)!;
  };
  return { proxy, sockets, clock, listener, upstreamOf, warnings };
}

const tick = () => new Promise((r) => setImmediate(r));
const DNS = { proxy: [{ name: 'dns', listen: 53, upstream: '10.0.2.254:53', replyAlias: ['10.0.2.2:53', '10.0.2.9'] }] };

test('forwards to the upstream and back from the upstream or an alias; drops the rest', async () => {
  const { proxy, listener, upstreamOf } = setup(DNS);
  await proxy.start();
  const l = listener();
  assert.is(l.type, 'udp6', 'no address: one dual-stack socket');
  l.deliver('q1', '::ffff:10.0.1.2', 5000);
  await tick();
  const up = upstreamOf('::ffff:10.0.1.2', 5000);
  assert.is(up.type, 'udp4');
  assert.equal(up.sent.map((s) => [s.msg.toString(), s.address, s.port]), [['q1', '10.0.2.254', 53]]);

  up.deliver('a-from-alias', '10.0.2.2', 53);
  up.deliver('a-from-upstream', '10.0.2.254', 53);
  up.deliver('a-any-port', '10.0.2.9', 777);
  up.deliver('injected', '10.0.2.3', 53);
  up.deliver('wrong-port', '10.0.2.2', 54);
  assert.equal(l.sent.map((s) => [s.msg.toString(), s.address, s.port]), [
    ['a-from-alias', '::ffff:10.0.1.2', 5000],
    ['a-from-upstream', '::ffff:10.0.1.2', 5000],
    ['a-any-port', '::ffff:10.0.1.2', 5000],
  ]);
  const r = proxy.status().rules[0];
  assert.equal(r.replies, [1, 1, 1]);
  assert.is(r.counters.drops.foreignSource, 2);
  assert.is(r.sessions[0].foreign, 2);
  assert.equal(r.counters.toUpstream, { packets: 1, bytes: 2 });
  assert.equal(r.counters.toClient, { packets: 3, bytes: 'a-from-alias'.length + 'a-from-upstream'.length + 'a-any-port'.length });
  proxy.close();
  proxy.close(); // twice is safe
  assert.ok(l.closed && up.closed);
});

test('one upstream socket per client; the same client reuses its own', async () => {
  const { proxy, listener, sockets } = setup(DNS);
  await proxy.start();
  const l = listener();
  l.deliver('a', '10.0.1.2', 1);
  l.deliver('b', '10.0.1.2', 2);
  l.deliver('c', '10.0.1.2', 1);
  await tick();
  assert.is(sockets.length, 3);
  assert.is(proxy.status().rules[0].sessions.length, 2);
  assert.is(proxy.status().rules[0].counters.sessionsOpened, 2);
  proxy.close();
});

test('idle sessions are closed by sweep; the bound evicts the least recently used', async () => {
  const { proxy, listener, clock, upstreamOf } = setup({ proxy: [{ listen: 53, upstream: '10.0.2.254:53', idleTimeout: 10, maxSessions: 2 }] });
  await proxy.start();
  const l = listener();
  l.deliver('a', '10.0.1.2', 1);
  await tick();
  const first = upstreamOf('10.0.1.2', 1);
  clock.t += 1000;
  l.deliver('b', '10.0.1.2', 2);
  clock.t += 1000;
  l.deliver('c', '10.0.1.2', 3);
  await tick();
  let r = proxy.status().rules[0];
  assert.equal(r.sessions.map((s) => s.client), ['10.0.1.2:3', '10.0.1.2:2']);
  assert.is(r.counters.sessionsEvicted, 1);
  assert.ok(first.closed, 'the evicted session socket is closed');
  const second = upstreamOf('10.0.1.2', 2);
  clock.t += 9_000; // port 2 idle 10 s, port 3 idle 9 s
  proxy.sweep();
  r = proxy.status().rules[0];
  assert.equal(r.sessions.map((s) => s.client), ['10.0.1.2:3']);
  assert.is(r.counters.sessionsExpired, 1);
  assert.ok(second.closed);
  // A reply refreshes the session too
  upstreamOf('10.0.1.2', 3).deliver('x', '10.0.2.254', 53);
  clock.t += 9_999;
  proxy.sweep();
  assert.is(proxy.status().rules[0].sessions.length, 1);
  proxy.close();
});

test('clients outside the allow-list open no session', async () => {
  const { proxy, listener, sockets } = setup({ proxy: [{ listen: 53, upstream: '10.0.2.254:53', allow: ['10.0.1.0/24', '2001:db8::/32'] }] });
  await proxy.start();
  const l = listener();
  l.deliver('no', '::ffff:10.0.9.2', 1);
  l.deliver('no', '2001:db9::1', 1);
  l.deliver('yes', '::ffff:10.0.1.7', 1);
  l.deliver('yes', '2001:db8::1', 1);
  l.deliver('yes', '10.0.1.8', 1);
  await tick();
  const r = proxy.status().rules[0];
  assert.is(r.counters.drops.notAllowed, 2);
  assert.is(r.sessions.length, 3);
  assert.is(sockets.length, 4);
  proxy.close();
});

test('send errors are counted on the session and the proxy goes on', async () => {
  const { proxy, listener, upstreamOf } = setup(DNS);
  await proxy.start();
  const l = listener();
  l.deliver('q', '10.0.1.2', 1);
  await tick();
  const up = upstreamOf('10.0.1.2', 1);
  up.sendError = Object.assign(new Error('send EHOSTUNREACH'), { code: 'EHOSTUNREACH' });
  l.deliver('q2', '10.0.1.2', 1);
  up.emit('error', Object.assign(new Error('recv ECONNREFUSED'), { code: 'ECONNREFUSED', syscall: 'recvmsg' }));
  await tick();
  let s = proxy.status().rules[0].sessions[0];
  assert.is(s.sendErrors, 1);
  assert.is(s.socketErrors, 1);
  assert.is(s.lastError, 'EHOSTUNREACH', 'the send failure came last');
  up.sendError = undefined;
  l.deliver('q3', '10.0.1.2', 1);
  await tick();
  s = proxy.status().rules[0].sessions[0];
  assert.is(s.toUpstream.packets, 3);
  assert.is(proxy.status().rules[0].counters.sendErrors, 1);
  // errors on the listening socket are counted, not fatal
  l.emit('error', Object.assign(new Error('x'), { code: 'ENOBUFS' }));
  assert.is(proxy.status().rules[0].counters.socketErrors, 2);
  proxy.close();
});

test('without aliases the session socket is connected; early datagrams wait for it', async () => {
  const { proxy, listener, sockets } = setup({ proxy: [{ listen: 53, upstream: '[2001:db8::254]:53' }] });
  await proxy.start();
  const l = listener();
  l.deliver('q1', '2001:db8:1::2', 7);
  l.deliver('q2', '2001:db8:1::2', 7);
  const up = sockets[sockets.length - 1];
  assert.is(up.type, 'udp6');
  assert.is(up.sent.length, 0, 'queued until connected');
  await tick();
  assert.ok(up.connected);
  assert.equal(up.sent.map((s) => [s.msg.toString(), s.address, s.port]), [['q1', '2001:db8::254', 53], ['q2', '2001:db8::254', 53]]);
  l.deliver('q3', '2001:db8:1::2', 7);
  assert.is(up.sent.length, 3);
  // ICMP port unreachable shows as a receive error on a connected socket: counted, not fatal
  up.emit('error', Object.assign(new Error('recvmsg ECONNREFUSED'), { code: 'ECONNREFUSED', syscall: 'recvmsg' }));
  up.deliver('answer', '2001:db8::254', 53);
  const r = proxy.status().rules[0];
  assert.is(r.sessions[0].socketErrors, 1);
  assert.is(r.sessions[0].lastError, 'ECONNREFUSED');
  assert.equal(r.replies, [1]);
  assert.equal(l.sent.map((s) => [s.msg.toString(), s.address, s.port]), [['answer', '2001:db8:1::2', 7]]);
  proxy.close();
});

test('start fails when a rule cannot listen, closing what it opened', async () => {
  const { proxy, sockets } = setup(DNS);
  const orig = FakeSocket.prototype.bind;
  FakeSocket.prototype.bind = function (this: FakeSocket, o: any, cb: () => void) {
    if (typeof o === 'object') this.bindError = Object.assign(new Error('bind EADDRINUSE'), { code: 'EADDRINUSE' });
    return orig.call(this, o, cb);
  };
  try {
    await proxy.start().then(
      () => assert.unreachable('should fail'),
      (err) => assert.match(err.message, 'cannot listen on [::]:53: EADDRINUSE'),
    );
    assert.ok(sockets.every((s) => s.closed));
  } finally {
    FakeSocket.prototype.bind = orig;
  }
});

test('reload keeps the sessions of unchanged rules and closes the others', async () => {
  const two = { proxy: [{ name: 'a', listen: 53, upstream: '10.0.2.254:53' }, { name: 'b', listen: 54, upstream: '10.0.2.254:54' }] };
  const { proxy, listener, upstreamOf, sockets } = setup(two);
  await proxy.start();
  listener(0).deliver('x', '10.0.1.2', 1);
  listener(1).deliver('y', '10.0.1.2', 2);
  await tick();
  const ua = upstreamOf('10.0.1.2', 1);
  const ub = upstreamOf('10.0.1.2', 2);
  const oldB = listener(1);
  const changed = { proxy: [two.proxy[0], { ...two.proxy[1], idleTimeout: 5 }, { name: 'c', listen: 55, upstream: '10.0.2.254:55' }] };
  await proxy.reconfigure(parseUdpProxyConfig(changed).rules);
  const rules = proxy.status().rules;
  assert.equal(rules.map((r) => [r.name, r.sessions.length, r.listening]), [['a', 1, true], ['b', 0, true], ['c', 0, true]]);
  assert.not.ok(ua.closed);
  assert.ok(ub.closed && oldB.closed);
  assert.is(rules[0].counters.toUpstream.packets, 1, 'counters of an unchanged rule survive');
  assert.is(sockets.filter((s) => !s.closed).length, 4);
  proxy.close();
});

test('status renders rules, replies per alias, drops and sessions', async () => {
  const { proxy, listener, upstreamOf, clock } = setup(DNS);
  await proxy.start();
  listener().deliver('q', '10.0.1.2', 5000);
  await tick();
  upstreamOf('10.0.1.2', 5000).deliver('a', '10.0.2.2', 53);
  upstreamOf('10.0.1.2', 5000).deliver('evil', '10.0.2.3', 53);
  clock.t += 3000;
  const out = formatStatus(proxy.status());
  assert.match(out, 'rule dns: :53 -> 10.0.2.254:53');
  assert.match(out, 'replies from:  10.0.2.254:53 0, 10.0.2.2:53 1, 10.0.2.9 (any port) 0');
  assert.match(out, 'sessions:      1 of at most 4096, closed after 60s idle; 1 opened, 0 expired, 0 evicted');
  assert.match(out, '1 from foreign sources');
  assert.match(out, /^  10\.0\.1\.2:5000 +4\d{4} +3s ago +1 +1 +1 +0$/m);
  proxy.close();
});

test.run();
