import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createInterfaceWatcher, IfaceInfo, readInterfaces } from '../../src/lib/interfaces';

function iface(name: string, index: number, extra: Partial<IfaceInfo> = {}): IfaceInfo {
  return { name, index, up: true, addresses: [{ family: 'IPv6', address: 'fe80::1', prefixLength: 64, scopeId: index }], ...extra };
}

function setup(names: string[]) {
  let state = new Map<string, IfaceInfo>();
  const events: string[] = [];
  const asked: string[][] = [];
  const w = createInterfaceWatcher({
    names,
    read: (n) => {
      asked.push([...n]);
      return state;
    },
  });
  w.on('appeared', (i) => events.push(`appeared ${i.name} ${i.index}`));
  w.on('changed', (i, p) => events.push(`changed ${i.name} ${p.index}->${i.index}`));
  w.on('vanished', (n) => events.push(`vanished ${n}`));
  const set = (...list: IfaceInfo[]) => (state = new Map(list.map((i) => [i.name, i])));
  return { w, events, asked, set };
}

test('appeared, changed on index change, vanished', () => {
  const { w, events, set } = setup(['br0', 'br5']);
  set(iface('br0', 10));
  w.update();
  set(iface('br0', 10), iface('br5', 12));
  w.update();
  w.update(); // nothing new
  set(iface('br0', 20), iface('br5', 12)); // br0 re-created
  w.update();
  set(iface('br0', 20));
  w.update();
  assert.equal(events, ['appeared br0 10', 'appeared br5 12', 'changed br0 10->20', 'vanished br5']);
  assert.is(w.get('br0')!.index, 20);
  assert.is(w.get('br5'), undefined);
});

test('changed on up flag and address set, not on address order or mac', () => {
  const { w, events, set } = setup(['eth8']);
  const a = { family: 'IPv4' as const, address: '192.168.1.1', prefixLength: 24 };
  const b = { family: 'IPv6' as const, address: '2001:db8::1', prefixLength: 64 };
  set(iface('eth8', 3, { addresses: [a, b] }));
  w.update();
  set(iface('eth8', 3, { addresses: [b, a], mac: '00:11:22:33:44:55' }));
  w.update();
  assert.equal(events, ['appeared eth8 3']);
  assert.is(w.get('eth8')!.mac, '00:11:22:33:44:55');
  set(iface('eth8', 3, { addresses: [b, a], up: false }));
  w.update();
  set(iface('eth8', 3, { addresses: [a, { ...b, prefixLength: 48 }], up: false }));
  w.update();
  assert.equal(events, ['appeared eth8 3', 'changed eth8 3->3', 'changed eth8 3->3']);
});

test('ignores interfaces it was not asked about', () => {
  const { w, events, set } = setup(['br0']);
  set(iface('br0', 1), iface('eth0', 2));
  w.update();
  assert.equal(events, ['appeared br0 1']);
  assert.is(w.get('eth0'), undefined);
});

test('setNames: dropped names vanish, new ones appear', () => {
  const { w, events, asked, set } = setup(['br0']);
  set(iface('br0', 1), iface('br5', 2));
  w.start();
  w.setNames(['br5']);
  assert.equal(events, ['appeared br0 1', 'vanished br0', 'appeared br5 2']);
  assert.equal(asked[asked.length - 1], ['br5']);
  w.close();
});

test('a failing reader is a warning and keeps the state', () => {
  let fail = false;
  const w = createInterfaceWatcher({
    names: ['br0'],
    read: () => {
      if (fail) throw new Error('EMFILE');
      return new Map([['br0', iface('br0', 1)]]);
    },
  });
  const warnings: string[] = [];
  w.on('warning', (e) => warnings.push(e.message));
  w.update();
  fail = true;
  w.update();
  assert.equal(warnings, ['EMFILE']);
  assert.is(w.get('br0')!.index, 1);
});

test('start scans at once; close is safe twice and stops updates', () => {
  const { w, events, set } = setup(['br0']);
  set(iface('br0', 1));
  w.start();
  w.start();
  assert.equal(events, ['appeared br0 1']);
  w.close();
  w.close();
  set();
  w.update();
  assert.equal(events, ['appeared br0 1']);
});

test('default reader finds loopback and skips missing interfaces', () => {
  const found = readInterfaces(['lo', 'nonexistent0']);
  assert.ok(found.has('lo'));
  assert.not.ok(found.has('nonexistent0'));
  const lo = found.get('lo')!;
  assert.is(lo.index, 1);
  assert.is(lo.up, true);
  const v4 = lo.addresses.find((a) => a.family === 'IPv4');
  if (v4) assert.equal([v4.address, v4.prefixLength], ['127.0.0.1', 8]);
});

test.run();
