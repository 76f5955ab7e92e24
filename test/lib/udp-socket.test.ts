// The native batching layer on loopback, against Node's own dgram as the peer.
import dgram from 'node:dgram';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EpollSet } from '../../src/lib/epoll';
import { formatAddress, readSockAddr, sockAddr } from '../../src/lib/sockaddr';
import { bindSocket, closeSocket, connectSocket, DatagramRing, localAddress, newSendOutcome, openUdpSocket, probeBatching, sendBatch } from '../../src/lib/udp-socket';
import { MessageVector } from '../../src/lib/msghdr';
import { allocBlock } from '../../src/lib/native';

const until = async (what: string, cond: () => boolean, ms = 2000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

function peer(type: 'udp4' | 'udp6', address: string): Promise<{ s: dgram.Socket; port: number; got: { msg: string; port: number }[] }> {
  return new Promise((resolve) => {
    const s = dgram.createSocket(type);
    const got: { msg: string; port: number }[] = [];
    s.on('message', (m, r) => got.push({ msg: m.toString(), port: r.port }));
    s.bind(0, address, () => resolve({ s, port: s.address().port, got }));
  });
}

for (const batched of [true, false]) {
  const how = batched ? 'recvmmsg/sendmmsg' : 'recvmsg/sendmsg';
  test(`${how}: a batch in, each to its sender out, addresses and lengths intact (IPv4)`, async () => {
    const fd = openUdpSocket(4);
    bindSocket(fd, sockAddr('127.0.0.1', 0));
    const me = localAddress(fd)!;
    assert.is(formatAddress(me), '127.0.0.1');
    const a = await peer('udp4', '127.0.0.1');
    const b = await peer('udp4', '127.0.0.1');
    for (let i = 0; i < 5; i++) (i % 2 ? b : a).s.send(`m${i}-${'x'.repeat(i * 300)}`, me.port, '127.0.0.1');
    const ring = new DatagramRing(8, 2048);
    let n = 0;
    await until('five datagrams', () => (n += ring.recv(fd, n, 8 - n, batched)) >= 5);
    assert.is(n, 5);
    const out = ring.msgs; // echo with the ring's own headers: the sources are the destinations
    for (let i = 0; i < n; i++) {
      const from = readSockAddr(ring.view, ring.nameOffset(i))!;
      assert.is(from.port, i % 2 ? b.port : a.port);
      assert.is(ring.length(i), `m${i}-`.length + i * 300);
      assert.is(Buffer.from(ring.u8.subarray(ring.dataOffset(i), ring.dataOffset(i) + 3)).toString(), `m${i}-`);
      out.setIovLength(i, 0, ring.length(i));
    }
    const res = newSendOutcome();
    sendBatch(fd, out, 0, n, batched, res);
    assert.equal(res, { sent: 5, failed: 0, errno: 0 });
    await until('echoes', () => a.got.length === 3 && b.got.length === 2);
    assert.equal(a.got.map((g) => g.msg.slice(0, 3)), ['m0-', 'm2-', 'm4-']);
    assert.is(a.got[2].msg.length, 3 + 1200);
    assert.is(ring.recv(fd, 0, 8, batched), 0, 'nothing waiting: 0, not an error');
    a.s.close();
    b.s.close();
    closeSocket(fd);
    ring.free();
  });
}

test('a connected socket: the ICMP port unreachable comes back as -ECONNREFUSED, once', async () => {
  const fd = openUdpSocket(4);
  const p = await peer('udp4', '127.0.0.1');
  const port = p.port;
  p.s.close(); // nobody listens there now
  connectSocket(fd, sockAddr('127.0.0.1', port));
  const blk = allocBlock(4096);
  const v = new MessageVector(blk.view, blk.base, 0, 1);
  v.noName(0);
  v.setIov(0, 0, blk.base + 1024, 10);
  const res = newSendOutcome();
  sendBatch(fd, v, 0, 1, true, res);
  assert.is(res.sent, 1);
  const ring = new DatagramRing(2, 2048);
  let r = 0;
  await until('the error', () => (r = ring.recv(fd, 0, 2, true)) !== 0);
  assert.is(r, -111, 'ECONNREFUSED');
  assert.is(ring.recv(fd, 0, 2, true), 0);
  closeSocket(fd);
  ring.free();
  blk.free();
});

test('IPv6 dual-stack: an IPv4 sender shows as ::ffff:127.0.0.1', async () => {
  const fd = openUdpSocket(6);
  bindSocket(fd, sockAddr('::', 0, 6));
  const port = localAddress(fd)!.port;
  const a = await peer('udp4', '127.0.0.1');
  const b = await peer('udp6', '::1');
  a.s.send('four', port, '127.0.0.1');
  b.s.send('six', port, '::1');
  const ring = new DatagramRing(4, 2048);
  let n = 0;
  await until('both', () => (n += ring.recv(fd, n, 4 - n, true)) >= 2);
  const from = [0, 1].map((i) => formatAddress(readSockAddr(ring.view, ring.nameOffset(i))!)).sort();
  assert.equal(from, ['::1', '::ffff:127.0.0.1']);
  a.s.close();
  b.s.close();
  closeSocket(fd);
  ring.free();
});

test('epoll: one wakeup names the sockets that are readable', async () => {
  const fds = [0, 1, 2].map(() => {
    const fd = openUdpSocket(4);
    bindSocket(fd, sockAddr('127.0.0.1', 0));
    return fd;
  });
  const ready: number[] = [];
  const ep = new EpollSet(16, () => {
    const n = ep.wait();
    for (let i = 0; i < n; i++) ready.push(ep.id(i));
    const ring = new DatagramRing(1, 256);
    for (const fd of fds) ring.recv(fd, 0, 1, true); // drain, or level-triggered epoll reports again
    ring.free();
  });
  fds.forEach((fd, i) => ep.add(fd, 1000 + i));
  const p = await peer('udp4', '127.0.0.1');
  p.s.send('x', localAddress(fds[2])!.port, '127.0.0.1');
  p.s.send('y', localAddress(fds[0])!.port, '127.0.0.1');
  await until('both ready', () => new Set(ready).size === 2);
  assert.equal([...new Set(ready)].sort(), [1000, 1002]);
  ep.close();
  p.s.close();
  for (const fd of fds) closeSocket(fd);
});

test('probe: this kernel batches; the stand-in is refused with EINVAL', () => {
  assert.is(probeBatching(), undefined);
  assert.is(probeBatching(true), 'EINVAL');
});

test.run();
