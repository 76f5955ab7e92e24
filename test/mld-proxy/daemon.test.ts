// The mld-proxy daemon as a state machine, with every outside part faked:
// interfaces, capture, group joiner, neighbour table and clock.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createInterfaceWatcher, type IfaceInfo } from '../../src/lib/interfaces';
import { parseCidr } from '../../src/lib/ip';
import { createMldProxy, type MldProxyOptions } from '../../src/mld-proxy/daemon';
import type { GroupJoiner } from '../../src/mld-proxy/group-joiner';
import { encodeNeighborSolicitation } from '../../src/mld-proxy/ndp';
import { solicitedNodeGroupText } from '../../src/mld-proxy/solicited-node';

function iface(name: string, index: number, addresses: string[] = []): IfaceInfo {
  return {
    name,
    index,
    up: true,
    addresses: addresses.map((a) => ({ family: 'IPv6' as const, address: a.split('/')[0], prefixLength: Number(a.split('/')[1] ?? 64) })),
  };
}

function harness(opts: Partial<MldProxyOptions> = {}, neighbours = '[]') {
  let now = 1_000_000;
  const present = new Map<string, IfaceInfo>([
    ['eth9', iface('eth9', 2, ['2001:db8:1::ff:fe00:9/64', 'fe80::9/64'])],
    ['br0', iface('br0', 3, ['2001:db8:1::1/64'])],
  ]);
  const watcher = createInterfaceWatcher({ names: [], read: (names) => new Map([...present].filter(([n]) => names.includes(n))) });
  const frames = new Map<string, (f: Uint8Array, n: string) => void>();
  const opened: string[] = [];
  const joined = new Set<string>();
  const log: string[] = [];
  const failJoins = { on: false };
  const failCaptures = { on: false };
  const joiner: GroupJoiner = {
    join(g) {
      if (failJoins.on) throw new Error('ENODEV');
      joined.add(g);
      log.push(`join ${g}`);
    },
    leave(g) {
      joined.delete(g);
      log.push(`leave ${g}`);
    },
    has: (g) => joined.has(g),
    get size() {
      return joined.size;
    },
    sockets: 1,
    reset() {
      joined.clear();
      log.push('reset');
    },
    close() {
      joined.clear();
    },
  };
  const proxy = createMldProxy(
    { upstream: 'eth9', downstream: ['br0'], timeoutMs: 60_000, checkIntervalMs: 1000, prefixes: [], maxAddresses: 10, ...opts },
    {
      now: () => now,
      watcher,
      readNeighbours: async () => neighbours,
      readLocalAddresses: () => new Set(['2001:db8:1::ff:fe00:9', 'fe80::9', '2001:db8:1::1']),
      createGroupJoiner: () => joiner,
      openCapture: (name, index, onFrame) => {
        if (failCaptures.on) throw new Error('ENETDOWN');
        frames.set(name, onFrame);
        opened.push(`${name}#${index}`);
        return { ifname: name, ifindex: index, close: () => frames.delete(name) };
      },
    },
  );
  const events: string[] = [];
  proxy.on('joined', (g, a, up, on) => events.push(`joined ${g} ${a} ${up} ${on}`));
  proxy.on('left', (g, a, up, why) => events.push(`left ${g} ${a} ${why}`));
  proxy.on('refused', (a) => events.push(`refused ${a}`));
  watcher.setNames(['eth9', 'br0']);
  const dad = (target: string) =>
    encodeNeighborSolicitation({ source: '::', destination: solicitedNodeGroupText(target), target, srcMac: '52:54:00:00:00:01' });
  const send = (frame: Uint8Array, on = 'br0') => frames.get(on)!(frame, on);
  return {
    proxy,
    watcher,
    present,
    joined,
    log,
    events,
    opened,
    failJoins,
    failCaptures,
    send,
    ns: (source: string, target: string) =>
      encodeNeighborSolicitation({ source, destination: target, target, srcMac: '52:54:00:00:00:01', dstMac: '52:54:00:00:00:02' }),
    dad,
    advance: (ms: number) => (now += ms),
  };
}

test('an NS from a LAN host joins its solicited-node group on the upstream', () => {
  const h = harness();
  h.proxy.start();
  h.send(h.ns('2001:db8:1::1234:5678', '2001:db8:1::1'));
  assert.ok(h.joined.has('ff02::1:ff34:5678'));
  assert.equal(h.events, ['joined ff02::1:ff34:5678 2001:db8:1::1234:5678 eth9 br0']);
  const s = h.proxy.status();
  assert.equal(s.prefixes, ['2001:db8:1::/64']);
  assert.equal(s.addresses.map((a) => [a.address, a.joined, a.source]), [['2001:db8:1::1234:5678', true, 'ndp']]);
  // The target was the router's own br0 address: never learned.
  assert.equal(s.counters.ignored['own-address'], 1);
  h.proxy.close();
});

test('two addresses sharing a group: one join, and the leave waits for the last', () => {
  const h = harness();
  h.proxy.start();
  h.send(h.ns('2001:db8:1::1234:5678', '2001:db8:1::1'));
  h.advance(30_000);
  h.send(h.ns('2001:db8:1:0:abcd::34:5678', '2001:db8:1::1'));
  assert.equal(h.log.filter((l) => l.startsWith('join')), ['join ff02::1:ff34:5678']);
  h.advance(31_000);
  h.proxy.check(); // the first is 61 s old, the second 31 s
  assert.ok(h.joined.has('ff02::1:ff34:5678'), 'still one address in the group');
  h.advance(30_000);
  h.proxy.check();
  assert.not.ok(h.joined.has('ff02::1:ff34:5678'));
  assert.equal(h.events.filter((e) => e.startsWith('left')), ['left ff02::1:ff34:5678 2001:db8:1:0:abcd:0:34:5678 expired']);
  h.proxy.close();
});

test('addresses outside the prefix, link-local and malformed frames are counted, not learned', () => {
  const h = harness();
  h.proxy.start();
  h.send(h.ns('2001:db8:99::5', '2001:db8:1::1'));
  h.send(h.ns('fe80::5', '2001:db8:1::1'));
  const bad = h.ns('2001:db8:1::5', '2001:db8:1::1');
  bad[14 + 7] = 64; // hop limit 64: not NDP from the link (RFC 4861 s7.1.1)
  h.send(bad);
  h.send(h.ns('2001:db8:1::6', '2001:db8:1::1').subarray(0, 60)); // truncated
  const corrupt = h.ns('2001:db8:1::7', '2001:db8:1::1');
  corrupt[14 + 40 + 2] ^= 0xff; // the kernel would drop it: we must not join for it
  h.send(corrupt);
  const s = h.proxy.status();
  assert.equal(s.addresses.length, 0);
  assert.equal(h.joined.size, 0);
  assert.equal(s.counters.malformed.checksum, 1);
  assert.equal(s.counters.ignored['outside-prefix'], 1);
  assert.equal(s.counters.ignored['link-local'], 1);
  assert.equal(s.counters.malformed['hop-limit'], 1);
  assert.equal(s.counters.malformed.truncated, 1);
  h.proxy.close();
});

test('the bound refuses new addresses but still refreshes known ones', () => {
  const h = harness({ maxAddresses: 2 });
  h.proxy.start();
  for (const a of ['2001:db8:1::a', '2001:db8:1::b', '2001:db8:1::c']) h.send(h.dad(a));
  const s = h.proxy.status();
  assert.equal(s.addresses.map((a) => a.address), ['2001:db8:1::a', '2001:db8:1::b']);
  assert.equal(s.counters.refused, 1);
  assert.equal(h.events.filter((e) => e.startsWith('refused')), ['refused 2001:db8:1::c']);
  h.proxy.close();
});

test('no upstream at start: learned groups are joined when it appears', () => {
  const h = harness();
  h.present.delete('eth9');
  h.proxy.start();
  h.send(h.dad('2001:db8:1::42'));
  assert.equal(h.joined.size, 0, 'no prefix known yet: nothing learned');
  h.proxy.reconfigure({ upstream: 'eth9', downstream: ['br0'], timeoutMs: 60_000, checkIntervalMs: 1000, prefixes: [parseCidr('2001:db8:1::/64')], maxAddresses: 10 });
  h.send(h.dad('2001:db8:1::42'));
  assert.equal(h.joined.size, 0, 'learned, but the upstream is missing');
  assert.equal(h.proxy.status().addresses[0].joined, false);
  h.present.set('eth9', iface('eth9', 2));
  h.watcher.update();
  assert.ok(h.joined.has('ff02::1:ff00:42'));
  h.proxy.close();
});

test('an upstream re-created with a new ifindex gets every group again', () => {
  const h = harness();
  h.proxy.start();
  h.send(h.dad('2001:db8:1::42'));
  h.present.set('eth9', iface('eth9', 7, ['2001:db8:1::ff:fe00:9/64']));
  h.watcher.update();
  assert.equal(h.log, ['join ff02::1:ff00:42', 'reset', 'join ff02::1:ff00:42']);
  h.proxy.close();
});

test('a downstream re-created with a new ifindex gets a new capture', () => {
  const h = harness();
  h.proxy.start();
  h.present.delete('br0');
  h.watcher.update();
  h.present.set('br0', iface('br0', 9));
  h.watcher.update();
  assert.equal(h.opened, ['br0#3', 'br0#9']);
  h.proxy.close();
});

test('a downstream that is down is captured only once it is up', () => {
  const h = harness();
  h.present.set('br0', { ...iface('br0', 3), up: false });
  h.proxy.start();
  h.proxy.check();
  assert.equal(h.opened, []);
  h.present.set('br0', iface('br0', 3));
  h.watcher.update();
  assert.equal(h.opened, ['br0#3']);
  h.proxy.close();
});

test('a capture that failed to open is retried at the next check', () => {
  const h = harness();
  h.failCaptures.on = true;
  h.proxy.start();
  assert.equal(h.opened, []);
  assert.equal(h.proxy.status().downstream, [{ name: 'br0', present: true, capturing: false }]);
  h.failCaptures.on = false;
  h.proxy.check();
  assert.equal(h.opened, ['br0#3']);
  h.proxy.close();
});

test('a failed join is retried at the next check', () => {
  const h = harness();
  h.proxy.start();
  h.failJoins.on = true;
  h.send(h.dad('2001:db8:1::42'));
  assert.equal(h.proxy.status().counters.joinFailures, 1);
  h.failJoins.on = false;
  h.proxy.check();
  assert.ok(h.joined.has('ff02::1:ff00:42'));
  h.proxy.close();
});

test('the neighbour table counts only REACHABLE, DELAY and PROBE entries', async () => {
  const h = harness({}, JSON.stringify([
    { dst: '2001:db8:1::a1', lladdr: '52:54:00:00:00:0a', state: ['REACHABLE'] },
    { dst: '2001:db8:1::a2', lladdr: '52:54:00:00:00:0b', state: ['STALE'] },
    { dst: '2001:db8:1::a3', lladdr: '52:54:00:00:00:0c', state: ['DELAY'] },
  ]));
  h.proxy.start();
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(h.proxy.status().addresses.map((a) => [a.address, a.source]), [['2001:db8:1::a1', 'neigh'], ['2001:db8:1::a3', 'neigh']]);
  h.proxy.close();
});

test.run();
