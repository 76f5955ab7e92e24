// Names, roaming and the endpoint: the daemon with fake tun devices, a fake
// control socket and injected DNS answers; its data socket is real, on
// loopback (127.0.0.1; peers "move" between 127.0.0.2.. and ports).
import { EventEmitter } from 'node:events';
import dgram from 'node:dgram';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Sealer, TYPE_DATA, TYPE_KEEPALIVE } from '../../src/udp-tunnel/aead';
import { createUdpTunnel, type UdpTunnelDeps, type UdpTunnelOptions } from '../../src/udp-tunnel/daemon';
import type { DeviceOps } from '../../src/udp-tunnel/device';
import { deriveKeys } from '../../src/udp-tunnel/keys';
import { boundTtl, hostsFileAddresses, preferredAddress, resolveName, type Resolution } from '../../src/udp-tunnel/resolve';
import { formatStatus } from '../../src/udp-tunnel/status-format';
import type { TunnelSpec } from '../../src/udp-tunnel/tunnel-spec';

class FakeSocket extends EventEmitter {
  bind(_port: number, _address: string, cb: () => void) {
    queueMicrotask(cb);
    return this;
  }
  send() {}
  close() {}
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

function devices() {
  let nextFd = 10;
  const written: Buffer[] = [];
  const ops: DeviceOps = {
    open: () => ({ fd: nextFd++, vnet: false }),
    async configure() {},
    async removeRoutes() {},
    close() {},
    read: () => -1,
    write(_fd, blk, off, len) {
      written.push(Buffer.from(blk.u8.subarray(off, off + len)));
      return true;
    },
    watch: () => ({ close() {} }),
  };
  return { ops, written };
}

const keys = deriveKeys('the shared secret of the mesh');
const ipPacket = (n = 60) => Buffer.concat([Buffer.from([0x45]), Buffer.alloc(n - 1, 7)]);
const ADD = (name: string, remote: string) => `{"op":"add","tunnel":[{"name":"${name}","tunnelIP":"10.0.1.1","mtu":1500,"remoteServer":"${remote}"}]}`;

async function setup(opts: Partial<UdpTunnelOptions> = {}, answers: Record<string, Resolution | Error> = {}, more: UdpTunnelDeps = {}) {
  let now = 1_700_000_000_000;
  const { ops, written } = devices();
  const infos: string[] = [];
  const warnings: string[] = [];
  const asked: string[] = [];
  const dataPort = await freePort();
  const tun = createUdpTunnel(
    { dataPort, controlPort: 5001, controlAddress: '127.0.0.1', keepaliveMs: 0, dataAddress: '127.0.0.1', ...opts },
    {
      now: () => now,
      devices: ops,
      createSocket: () => new FakeSocket() as unknown as dgram.Socket,
      resolve: async (name) => {
        asked.push(name);
        const a = answers[name];
        if (a === undefined) throw new Error(`${name} has no A or AAAA record`);
        if (a instanceof Error) throw a;
        return a;
      },
      routable: async () => true,
      ...more,
    },
  );
  tun.on('info', (m) => infos.push(m));
  tun.on('warning', (_k, m) => warnings.push(m));
  await tun.start();
  return { tun, written, infos, warnings, asked, answers, advance: (ms: number) => (now += ms), now: () => now };
}

const endpoint = (tun: ReturnType<typeof createUdpTunnel>) => tun.status().tunnels[0].endpoint;

test('keyed: the endpoint follows the newest authentic datagram, to a new address or a new port', async () => {
  const { tun, written, infos, now } = await setup({ keys });
  await tun.handleControl(ADD('udp2', '127.0.0.2'), '127.0.0.1');
  const port = tun.status().dataPort;
  assert.is(endpoint(tun), `127.0.0.2:${port}`);
  assert.is(tun.status().tunnels[0].endpointSource, 'configured');
  const peer = new Sealer(keys.data, now() - 1000, 0x1234abcd);
  tun.onData(peer.seal(TYPE_DATA, ipPacket()), '127.0.0.2');
  assert.is(tun.status().tunnels[0].peerSite, '1234abcd', 'the site is learned from a datagram found by address');
  assert.is(tun.status().tunnels[0].moves, 0);
  // The WAN address changed: found by its site, authentic, newest: the endpoint moves.
  tun.onData(peer.seal(TYPE_DATA, ipPacket()), '127.0.0.9', 40000);
  assert.is(endpoint(tun), '127.0.0.9:40000');
  assert.is(tun.status().tunnels[0].endpointSource, 'learned');
  assert.is(tun.status().tunnels[0].moves, 1);
  // A NAT rebinding: same address, another port.
  tun.onData(peer.seal(TYPE_KEEPALIVE, new Uint8Array(0)), '127.0.0.9', 40001);
  assert.is(endpoint(tun), '127.0.0.9:40001');
  assert.is(written.length, 2);
  assert.is(infos.filter((m) => /peer moved/.test(m)).length, 2, 'one log line per move');
  assert.match(formatStatus(tun.status()), /127\.0\.0\.9:40001 \(learned, moved 2x, last 0s ago\)/);
  tun.close();
});

test('keyed: forged, replayed and older datagrams from a new address move nothing', async () => {
  const { tun, written, now } = await setup({ keys });
  await tun.handleControl(ADD('udp2', '127.0.0.2'), '127.0.0.1');
  const port = tun.status().dataPort;
  const peer = new Sealer(keys.data, now() - 1000, 0x1234abcd);
  const first = peer.seal(TYPE_DATA, ipPacket());
  const older = peer.seal(TYPE_DATA, ipPacket()); // sealed before `newest`, delivered after it
  const newest = peer.seal(TYPE_DATA, ipPacket());
  tun.onData(first, '127.0.0.2');
  tun.onData(newest, '127.0.0.2');
  // Replayed: a copy of one already taken, from elsewhere.
  tun.onData(newest, '127.0.0.66', 1111);
  // Forged: the peer's header and site, a tag that does not check.
  const forged = Buffer.from(peer.seal(TYPE_DATA, ipPacket()));
  forged[forged.length - 1] ^= 1;
  tun.onData(forged, '127.0.0.66', 1111);
  // Forged: someone without the key (another key altogether).
  const stranger = new Sealer(deriveKeys('not the secret of this mesh').data, now(), 0x1234abcd);
  tun.onData(stranger.seal(TYPE_DATA, ipPacket()), '127.0.0.66', 1111);
  // Older: authentic and never seen, but not the newest: taken, yet it moves nothing.
  tun.onData(older, '127.0.0.66', 1111);
  const t = tun.status().tunnels[0];
  assert.is(t.endpoint, `127.0.0.2:${port}`);
  assert.is(t.moves, 0);
  assert.is(t.drops.replayed, 1);
  assert.is(t.drops.forged, 2);
  assert.is(written.length, 3, 'first, newest and the older one reach the tun');
  tun.close();
});

test('keyed: an older session from a new address moves nothing; a restarted peer (newer session, same site) does', async () => {
  const { tun, now } = await setup({ keys });
  await tun.handleControl(ADD('udp2', '127.0.0.2'), '127.0.0.1');
  const old = new Sealer(keys.data, now() - 5000, 0x1234abcd);
  const peer = new Sealer(keys.data, now() - 1000, 0x1234abcd);
  const fromOld = old.seal(TYPE_DATA, ipPacket());
  tun.onData(peer.seal(TYPE_DATA, ipPacket()), '127.0.0.2');
  tun.onData(fromOld, '127.0.0.66', 1111);
  assert.is(tun.status().tunnels[0].moves, 0);
  assert.is(tun.status().tunnels[0].drops.replayed, 1);
  const restarted = new Sealer(keys.data, now(), 0x1234abcd);
  tun.onData(restarted.seal(TYPE_DATA, ipPacket()), '127.0.0.7', 2222);
  assert.is(tun.status().tunnels[0].endpoint, '127.0.0.7:2222');
  tun.close();
});

test('keyed: a stranger site from an unknown address is counted, not taken', async () => {
  const { tun, written, now } = await setup({ keys });
  await tun.handleControl(ADD('udp2', '127.0.0.2'), '127.0.0.1');
  const other = new Sealer(keys.data, now(), 0x55555555);
  tun.onData(other.seal(TYPE_DATA, ipPacket()), '127.0.0.66', 1111);
  assert.is(tun.status().unknownSource, 1);
  assert.is(written.length, 0);
  tun.close();
});

test('keyed: the peers\' sites are saved; restored, a peer that moved meanwhile is found by its site', async () => {
  const saved: Record<string, number>[] = [];
  const first = await setup({ keys }, {}, { saveTunnels: (_t, peers) => saved.push(peers) });
  await first.tun.handleControl(ADD('udp2', '127.0.0.2'), '127.0.0.1');
  const peer = new Sealer(keys.data, first.now() - 1000, 0x1234abcd);
  first.tun.onData(peer.seal(TYPE_DATA, ipPacket()), '127.0.0.2');
  assert.equal(saved.at(-1), { udp2: 0x1234abcd });
  first.tun.close();
  const spec: TunnelSpec = { name: 'udp2', tunnelIP: '10.0.1.1', netmask: '255.255.255.252', mtu: 1500, remoteServer: '127.0.0.2', routes: [] };
  const again = await setup({ keys }, {}, { initialTunnels: [spec], initialPeerSites: { udp2: 0x1234abcd } });
  assert.is(again.tun.status().tunnels[0].peerSite, '1234abcd');
  const restarted = new Sealer(keys.data, again.now(), 0x1234abcd);
  again.tun.onData(restarted.seal(TYPE_DATA, ipPacket()), '127.0.0.9', 4444);
  assert.is(again.tun.status().tunnels[0].endpoint, '127.0.0.9:4444');
  assert.is(again.written.length, 1);
  again.tun.close();
});

test('keyless: the endpoint never follows a datagram; another address is an unknown source', async () => {
  const { tun } = await setup();
  await tun.handleControl(ADD('udp2', '127.0.0.2'), '127.0.0.1');
  const port = tun.status().dataPort;
  tun.onData(ipPacket(), '127.0.0.2', 40000);
  tun.onData(ipPacket(), '127.0.0.9', 40000);
  assert.is(tun.status().tunnels[0].endpoint, `127.0.0.2:${port}`);
  assert.is(tun.status().unknownSource, 1);
  tun.close();
});

test('names: resolved at add; shown with address and time; a failed lookup keeps the address and says so once', async () => {
  const { tun, answers, warnings, asked, advance } = await setup({}, { 'peer.example': { addresses: ['127.0.0.3'], ttlMs: 30_000 } });
  const r = await tun.handleControl(ADD('udp2', 'peer.example'), '127.0.0.1');
  assert.equal(r.reply, { ok: true, message: 'udp2 added' });
  const port = tun.status().dataPort;
  let t = tun.status().tunnels[0];
  assert.is(t.remoteServer, 'peer.example', 'the name is what the table (and the state file) keeps');
  assert.equal(t.addresses, ['127.0.0.3']);
  assert.is(t.endpoint, `127.0.0.3:${port}`);
  assert.is(t.endpointSource, 'resolved');
  assert.ok(t.resolvedAt !== null);
  tun.onData(ipPacket(), '127.0.0.3');
  assert.is(tun.status().tunnels[0].rxPackets, 1, 'found by the resolved address');
  answers['peer.example'] = new Error('peer.example: ETIMEOUT');
  advance(60_000);
  await tun.resolveAll();
  await tun.resolveAll();
  await tun.resolveAll();
  t = tun.status().tunnels[0];
  assert.is(t.endpoint, `127.0.0.3:${port}`, 'the last address stays');
  assert.is(t.resolveError, 'peer.example: ETIMEOUT');
  assert.is(warnings.filter((w) => /cannot resolve peer\.example/.test(w)).length, 1, 'said once');
  assert.match(formatStatus(tun.status()), /peer\.example \(127\.0\.0\.3, lookup failing: peer\.example: ETIMEOUT\)/);
  answers['peer.example'] = { addresses: ['127.0.0.4'], ttlMs: 30_000 };
  await tun.resolveAll();
  t = tun.status().tunnels[0];
  assert.is(t.endpoint, `127.0.0.4:${port}`, 'the name moved: so does the endpoint');
  assert.is(t.resolveError, undefined);
  assert.equal(asked.length, 5);
  assert.match(formatStatus(tun.status()), /warning: tunnel udp2 goes to the name peer\.example without a key/);
  tun.close();
});

test('names: a name that does not resolve at add makes the tunnel anyway, with no endpoint, and says why', async () => {
  const { tun, written } = await setup();
  const r = await tun.handleControl(ADD('udp2', 'nowhere.example'), '127.0.0.1');
  assert.ok(r.reply.ok && /nowhere\.example has no A or AAAA record; trying again every 30 s/.test(r.reply.message!));
  assert.is(tun.status().tunnels[0].endpoint, null);
  tun.sendKeepalives(); // nowhere to send: nothing, no crash
  assert.is(written.length, 0);
  tun.close();
});

test('names: a slow DNS server does not hold add; the late answer sets the endpoint', async () => {
  let answer: (r: Resolution) => void = () => {};
  const { tun } = await setup({}, {}, { addResolveWaitMs: 50, resolve: () => new Promise((r) => (answer = r)) });
  const r = await tun.handleControl(ADD('udp2', 'slow.example'), '127.0.0.1');
  assert.equal(r.reply, { ok: true, message: 'udp2 added (looking up slow.example: no answer yet)' });
  assert.is(tun.status().tunnels[0].endpoint, null);
  answer({ addresses: ['127.0.0.5'], ttlMs: 60_000 });
  await new Promise((r) => setTimeout(r, 20));
  assert.is(tun.status().tunnels[0].endpoint, `127.0.0.5:${tun.status().dataPort}`);
  tun.close();
});

test('names: a silent keyed tunnel takes the new answer; a lagging unchanged answer does not undo a learned endpoint', async () => {
  const { tun, now, advance } = await setup({ keys, keepaliveMs: 1000 }, { 'peer.example': { addresses: ['127.0.0.3'], ttlMs: 30_000 } });
  await tun.handleControl(ADD('udp2', 'peer.example'), '127.0.0.1');
  const peer = new Sealer(keys.data, now() - 1000, 0x0badf00d);
  tun.onData(peer.seal(TYPE_DATA, ipPacket()), '127.0.0.3');
  tun.onData(peer.seal(TYPE_DATA, ipPacket()), '127.0.0.8', 3333);
  assert.is(tun.status().tunnels[0].endpoint, '127.0.0.8:3333');
  await tun.resolveAll(); // DNS still says 127.0.0.3 (its TTL lags the move)
  assert.is(tun.status().tunnels[0].endpoint, '127.0.0.8:3333');
  advance(10_000); // silent now
  await tun.resolveAll();
  assert.match(tun.status().tunnels[0].endpoint!, /^127\.0\.0\.3:/);
  tun.close();
});

test('preference: IPv6 when routable, else IPv4; TTL bounded to 30 s..1 h', () => {
  assert.is(preferredAddress(['2001:db8::2', '192.0.2.2'], true), '2001:db8::2');
  assert.is(preferredAddress(['2001:db8::2', '192.0.2.2'], false), '192.0.2.2');
  assert.is(preferredAddress(['2001:db8::2'], false), '2001:db8::2');
  assert.is(preferredAddress([], true), undefined);
  assert.is(boundTtl(0), 30_000);
  assert.is(boundTtl(300), 300_000);
  assert.is(boundTtl(86_400), 3_600_000);
});

test('resolveName: A and AAAA together, the shortest TTL; /etc/hosts when DNS has neither', async () => {
  const r = await resolveName('peer.example', {
    resolve4: async () => [{ address: '192.0.2.2', ttl: 600 }],
    resolve6: async () => [{ address: '2001:db8::2', ttl: 120 }],
    lookup: async () => [],
  });
  assert.equal(r, { addresses: ['2001:db8::2', '192.0.2.2'], ttlMs: 120_000 });
  const notFound = Object.assign(new Error('queryA ENOTFOUND'), { code: 'ENOTFOUND' });
  const h = await resolveName('peer', {
    resolve4: async () => Promise.reject(notFound),
    resolve6: async () => Promise.reject(notFound),
    lookup: async () => [{ address: '192.0.2.9', family: 4 }],
  });
  assert.equal(h, { addresses: ['192.0.2.9'], ttlMs: 300_000 });
  try {
    await resolveName('peer', { resolve4: async () => Promise.reject(notFound), resolve6: async () => Promise.reject(notFound), lookup: async () => [] });
    assert.unreachable();
  } catch (err) {
    assert.is((err as Error).message, 'peer has no A or AAAA record');
  }
});

test('/etc/hosts: every address of the name, comments and case aside', () => {
  const text = '127.0.0.1 localhost\n# 192.0.2.1 peer\n192.0.2.2  Peer.example peer  # the other site\n2001:db8::2 peer.example\n';
  assert.equal(hostsFileAddresses(text, 'peer.example'), [
    { address: '192.0.2.2', family: 4 },
    { address: '2001:db8::2', family: 6 },
  ]);
  assert.equal(hostsFileAddresses(text, 'nobody'), []);
});

test.run();
