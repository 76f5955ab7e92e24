// The daemon with fake tun devices and a fake control socket; its data socket
// is real, on loopback (127.0.0.1, peers at 127.0.0.2..): no timers.
import { EventEmitter } from 'node:events';
import type dgram from 'node:dgram';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Opener, Sealer, TYPE_DATA } from '../../src/udp-tunnel/aead';
import { signMessage } from '../../src/udp-tunnel/control-auth';
import { createUdpTunnel, type UdpTunnelOptions } from '../../src/udp-tunnel/daemon';
import type { DeviceOps } from '../../src/udp-tunnel/device';
import { deriveKeys } from '../../src/udp-tunnel/keys';
import { formatStatus } from '../../src/udp-tunnel/status-format';
import type { TunnelSpec } from '../../src/udp-tunnel/tunnel-spec';

class FakeSocket extends EventEmitter {
  sent: { msg: Buffer; port: number; address: string }[] = [];
  bind(_port: number, _address: string, cb: () => void) {
    queueMicrotask(cb);
    return this;
  }
  send(msg: Buffer | string, port: number, address: string, cb?: (err: Error | null) => void) {
    this.sent.push({ msg: Buffer.from(msg), port, address });
    cb?.(null);
  }
  close() {}
}

import dgramReal from 'node:dgram';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = dgramReal.createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

/** A peer's data socket at ADDRESS:port, recording what arrives. */
function peerSocket(address: string, port: number): Promise<{ got: Buffer[]; close(): void }> {
  return new Promise((resolve) => {
    const s = dgramReal.createSocket('udp4');
    const got: Buffer[] = [];
    s.on('message', (m) => got.push(m));
    s.bind(port, address, () => resolve({ got, close: () => s.close() }));
  });
}

const until = async (what: string, cond: () => boolean, ms = 2000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

function fakeDevices() {
  let nextFd = 10;
  const d = {
    open: new Map<string, number>(), // name -> fd
    configured: [] as string[],
    removedRoutes: [] as string[],
    closed: [] as number[],
    written: [] as { fd: number; pkt: Buffer }[],
    inbox: new Map<number, Buffer[]>(),
    readers: new Map<number, () => void>(),
    failConfigure: false,
  };
  const ops: DeviceOps = {
    open(name) {
      const fd = nextFd++;
      d.open.set(name, fd);
      return { fd, vnet: false };
    },
    async configure(spec) {
      if (d.failConfigure) throw new Error('ip: RTNETLINK answers: File exists');
      d.configured.push(spec.name);
    },
    async removeRoutes(spec) {
      d.removedRoutes.push(...spec.routes);
    },
    close(fd) {
      d.closed.push(fd);
      for (const [n, f] of d.open) if (f === fd) d.open.delete(n);
    },
    read(fd, blk, off) {
      const p = d.inbox.get(fd)?.shift();
      if (!p) return -1;
      blk.u8.set(p, off);
      return p.length;
    },
    write(fd, blk, off, len) {
      d.written.push({ fd, pkt: Buffer.from(blk.u8.subarray(off, off + len)) });
      return true;
    },
    watch(fd, cb) {
      d.readers.set(fd, cb);
      return { close: () => d.readers.delete(fd) };
    },
  };
  return { d, ops };
}

const OPTS: UdpTunnelOptions = { dataPort: 5000, controlPort: 5001, controlAddress: '127.0.0.1', keepaliveMs: 0, dataAddress: '127.0.0.1' };
const ADD = (name: string, remote: string, extra = '') =>
  `{"op":"add","tunnel":[{"name":"${name}","tunnelIP":"10.0.1.1","netmask":"255.255.255.252","mtu":1500,"remoteServer":"${remote}"${extra}}]}`;
const ipPacket = (n = 60) => Buffer.concat([Buffer.from([0x45]), Buffer.alloc(n - 1, 7)]);

async function setup(opts: Partial<UdpTunnelOptions> = {}, initial: TunnelSpec[] = []) {
  let now = 1_700_000_000_000;
  const sockets: FakeSocket[] = [];
  const { d, ops } = fakeDevices();
  const saved: TunnelSpec[][] = [];
  const warnings: string[] = [];
  const dataPort = await freePort();
  const tun = createUdpTunnel(
    { ...OPTS, dataPort, ...opts },
    {
      now: () => now,
      devices: ops,
      createSocket: () => {
        const s = new FakeSocket();
        sockets.push(s);
        return s as unknown as dgram.Socket;
      },
      initialTunnels: initial,
      saveTunnels: (t) => saved.push(t),
    },
  );
  tun.on('warning', (_k, m) => warnings.push(m));
  await tun.start();
  return { tun, d, saved, warnings, dataPort, advance: (ms: number) => (now += ms), now: () => now };
}

test('add from localhost: device made, configured, saved; list shows it', async () => {
  const { tun, d, saved } = await setup();
  const r = await tun.handleControl(ADD('udp2', '192.0.2.2', ',"routes":["192.168.2.0/24"]'), '127.0.0.1');
  assert.equal(r.reply, { ok: true, message: 'udp2 added' });
  assert.ok(d.open.has('udp2'));
  assert.equal(d.configured, ['udp2']);
  assert.equal(saved.at(-1)!.map((t) => t.name), ['udp2']);
  const l = await tun.handleControl('{"op":"list"}', '127.0.0.1');
  assert.ok(l.reply.ok && l.reply.status!.tunnels[0].routes[0] === '192.168.2.0/24');
  tun.close();
});

test('the same add twice is idempotent; a clash by name or by remote is an error reply', async () => {
  const { tun } = await setup();
  await tun.handleControl(ADD('udp2', '192.0.2.2'), '127.0.0.1');
  assert.equal((await tun.handleControl(ADD('udp2', '192.0.2.2'), '127.0.0.1')).reply, { ok: true, message: 'udp2 exists' });
  const other = (await tun.handleControl(ADD('udp2', '192.0.2.9'), '127.0.0.1')).reply;
  assert.ok(!other.ok && /exists with other settings/.test(other.error));
  const sameRemote = (await tun.handleControl(ADD('udp9', '192.0.2.2'), '127.0.0.1')).reply;
  assert.ok(!sameRemote.ok && /already goes to 192.0.2.2/.test(sameRemote.error));
  tun.close();
});

test('del removes routes, closes the device, saves; del of an unknown name is an error, not a crash', async () => {
  const { tun, d, saved } = await setup();
  await tun.handleControl(ADD('udp2', '192.0.2.2', ',"routes":["192.168.2.0/24"]'), '127.0.0.1');
  const fd = d.open.get('udp2')!;
  assert.equal((await tun.handleControl('{"op":"del","tunnel":[{"name":"udp2"}]}', '127.0.0.1')).reply, { ok: true, message: 'udp2 deleted' });
  assert.equal(d.removedRoutes, ['192.168.2.0/24']);
  assert.ok(d.closed.includes(fd));
  assert.equal(saved.at(-1), []);
  const r = (await tun.handleControl('{"op":"del","tunnel":[{"name":"udp2"}]}', '127.0.0.1')).reply;
  assert.ok(!r.ok && /no tunnel udp2/.test(r.error));
  tun.close();
});

test('a failed configure closes the device and reports the error', async () => {
  const { tun, d } = await setup();
  d.failConfigure = true;
  const r = (await tun.handleControl(ADD('udp2', '192.0.2.2'), '127.0.0.1')).reply;
  assert.ok(!r.ok && /File exists/.test(r.error));
  assert.is(d.open.size, 0);
  tun.close();
});

test('unsigned from off localhost refused and counted; bad bodies counted as invalid', async () => {
  const { tun } = await setup();
  const r = (await tun.handleControl(ADD('udp2', '192.0.2.2'), '192.0.2.66')).reply;
  assert.ok(!r.ok && /must be signed/.test(r.error));
  await tun.handleControl('{"op":', '127.0.0.1');
  await tun.handleControl('{"op":"add","tunnel":[{"name":"x","tunnelIP":"10.0.0.1","remoteServer":"192.0.2.2","mtu":"big"}]}', '127.0.0.1');
  const s = tun.status();
  assert.is(s.controlRefused, 1);
  assert.is(s.controlInvalid, 2);
  assert.is(s.tunnels.length, 0);
  tun.close();
});

test('keyed: signed from off localhost accepted once; replay, tamper, wrong key refused', async () => {
  const keys = deriveKeys('the shared secret of the mesh');
  const { tun, now } = await setup({ keys, controlAddress: '0.0.0.0' });
  const m = signMessage(keys.control, ADD('udp2', '192.0.2.2'), now());
  assert.equal((await tun.handleControl(m, '192.0.2.3')).reply, { ok: true, message: 'udp2 added' });
  assert.match(JSON.stringify((await tun.handleControl(m, '192.0.2.3')).reply), /replayed/);
  assert.match(JSON.stringify((await tun.handleControl(m.replace('udp2', 'udp3'), '192.0.2.3')).reply), /bad MAC/);
  const wrong = signMessage(deriveKeys('not the shared secret at all').control, '{"op":"list"}', now());
  assert.match(JSON.stringify((await tun.handleControl(wrong, '192.0.2.3')).reply), /bad MAC/);
  assert.is(tun.status().controlRefused, 3);
  tun.close();
});

test('keyless data: demux by remote address, IP packets to the tun, strangers and junk counted', async () => {
  const { tun, d } = await setup();
  await tun.handleControl(ADD('udp2', '192.0.2.2'), '127.0.0.1');
  const fd = d.open.get('udp2')!;
  tun.onData(ipPacket(1500), '192.0.2.2');
  tun.onData(ipPacket(), '192.0.2.66');
  tun.onData(Buffer.from([0x00, 1, 2, 3]), '192.0.2.2'); // not IPv4 or IPv6
  tun.onData(Buffer.alloc(0), '192.0.2.2'); // keepalive
  assert.equal(d.written.map((w) => [w.fd, w.pkt.length]), [[fd, 1500]]);
  const s = tun.status();
  assert.is(s.unknownSource, 1);
  assert.is(s.tunnels[0].drops.malformed, 1);
  assert.is(s.tunnels[0].rxPackets, 1);
  assert.is(s.tunnels[0].rxBytes, 1500);
  tun.close();
});

test('a datagram larger than the tunnel carries is dropped unread and counted; status names the data path', async () => {
  const { tun, d } = await setup();
  await tun.handleControl(ADD('udp2', '192.0.2.2'), '127.0.0.1');
  tun.onData(ipPacket(1501), '192.0.2.2'); // the tunnel's MTU is 1500
  tun.onData(ipPacket(65507), '192.0.2.2');
  tun.onData(ipPacket(65507), '192.0.2.99');
  assert.is(d.written.length, 0);
  const s = tun.status();
  assert.is(s.tunnels[0].drops.oversized, 2);
  assert.is(s.unknownSource, 1);
  assert.equal(s.dataPath.batching, { state: 'on' });
  assert.match(formatStatus(s), 'data path: batched (recvmmsg/sendmmsg), UDP GSO, tun TSO and GRO');
  assert.match(formatStatus(s), 'oversized=2');
  tun.close();
});

test('--no-offload: every offload off, and status says so', async () => {
  const { tun } = await setup({ offload: false });
  assert.match(formatStatus(tun.status()), 'data path: one datagram per system call (--no-offload), no UDP GSO (--no-offload), plain tun packets (--no-offload)');
  tun.close();
});

test('tun to socket: each packet one datagram to remote:dataPort, whole', async () => {
  const { tun, d, dataPort } = await setup();
  const peer = await peerSocket('127.0.0.2', dataPort);
  await tun.handleControl(ADD('udp2', '127.0.0.2'), '127.0.0.1');
  const fd = d.open.get('udp2')!;
  d.inbox.set(fd, [ipPacket(1500), ipPacket(40)]);
  d.readers.get(fd)!();
  await until('both datagrams', () => peer.got.length === 2);
  assert.equal(peer.got.map((m) => m.length), [1500, 40]);
  assert.equal(peer.got[0], ipPacket(1500));
  assert.is(tun.status().tunnels[0].txPackets, 2);
  peer.close();
  tun.close();
});

test('keyed data: sealed both ways; forged and replayed dropped and counted', async () => {
  const keys = deriveKeys('the shared secret of the mesh');
  const { tun, d, now, dataPort } = await setup({ keys });
  const peerSock = await peerSocket('127.0.0.2', dataPort);
  await tun.handleControl(ADD('udp2', '127.0.0.2'), '127.0.0.1');
  const fd = d.open.get('udp2')!;
  const peer = new Sealer(keys.data, now() - 1000);
  const good = peer.seal(TYPE_DATA, ipPacket(1400));
  tun.onData(good, '127.0.0.2');
  tun.onData(good, '127.0.0.2'); // replay
  const forged = Buffer.from(peer.seal(TYPE_DATA, ipPacket(100)));
  forged[forged.length - 1] ^= 0xff;
  tun.onData(forged, '127.0.0.2');
  assert.is(d.written.length, 1);
  assert.equal(d.written[0].pkt, ipPacket(1400));
  const drops = tun.status().tunnels[0].drops;
  assert.is(drops.replayed, 1);
  assert.is(drops.forged, 1);
  d.inbox.set(fd, [ipPacket(100)]);
  d.readers.get(fd)!();
  await until('the sealed datagram', () => peerSock.got.length === 1);
  assert.is(peerSock.got[0].length, 100 + 42);
  const back = new Opener(keys.data).open(peerSock.got[0], 0);
  assert.ok(back.ok && back.payload.equals(ipPacket(100)), 'the peer opens it');
  peerSock.close();
  tun.close();
});

test('keepalive: sent to each tunnel; a peer silent for 3 intervals shows as silent', async () => {
  const { tun, advance, dataPort } = await setup({ keepaliveMs: 1000 });
  const peer = await peerSocket('127.0.0.2', dataPort);
  await tun.handleControl(ADD('udp2', '127.0.0.2'), '127.0.0.1');
  tun.sendKeepalives();
  await until('the keepalive', () => peer.got.length === 1);
  assert.equal(peer.got.map((m) => m.length), [0]);
  peer.close();
  advance(3500);
  assert.ok(tun.status().tunnels[0].silent);
  assert.match(formatStatus(tun.status()), /never \(silent\)/);
  tun.onData(Buffer.alloc(0), '127.0.0.2');
  assert.not.ok(tun.status().tunnels[0].silent);
  tun.close();
});

test('tunnels from the state file are restored at start; a bad one is a warning', async () => {
  const spec = (name: string, remote: string): TunnelSpec => ({ name, tunnelIP: '10.0.1.1', netmask: '255.255.255.252', mtu: 1500, remoteServer: remote, routes: [] });
  const { tun, d, warnings, saved } = await setup({}, [spec('udp2', '192.0.2.2'), spec('udp3', '192.0.2.2')]);
  assert.equal([...d.open.keys()], ['udp2']);
  assert.match(warnings.join('\n'), /cannot restore tunnel udp3/);
  // The one not restored stays in the state file until it is deleted.
  await tun.handleControl(ADD('udp4', '192.0.2.4'), '127.0.0.1');
  assert.equal(saved.at(-1)!.map((t) => t.name), ['udp2', 'udp4', 'udp3']);
  assert.equal((await tun.handleControl('{"op":"del","tunnel":[{"name":"udp3"}]}', '127.0.0.1')).reply, { ok: true, message: 'udp3 deleted (it was not running)' });
  assert.equal(saved.at(-1)!.map((t) => t.name), ['udp2', 'udp4']);
  tun.close();
  tun.close(); // safe twice
  assert.is(d.open.size, 0);
});

test.run();
