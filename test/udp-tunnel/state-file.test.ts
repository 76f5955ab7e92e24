import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeState, encodeState, loadPeerSites, loadSite, loadState, saveState } from '../../src/udp-tunnel/state-file';
import type { TunnelSpec } from '../../src/udp-tunnel/tunnel-spec';

const tunnels: TunnelSpec[] = [
  { name: 'udp2', tunnelIP: '10.0.1.1', netmask: '255.255.255.252', mtu: 1500, remoteServer: '192.0.2.2', routes: ['192.168.2.0/24'] },
  { name: 'udp3', tunnelIP: '10.0.3.1', netmask: '255.255.255.0', mtu: 1400, remoteServer: '192.0.2.3', routes: [] },
];

test('encode/decode round trip', () => {
  assert.equal(decodeState(encodeState(tunnels)), tunnels);
});

test('names, IPv6 remotes and tunnelIP6 round-trip; the site is kept beside the tunnels', () => {
  const more: TunnelSpec[] = [
    ...tunnels,
    { name: 'home', tunnelIP: '10.0.4.1', netmask: '255.255.255.252', mtu: 1420, remoteServer: 'home.dyndns.example', routes: ['fd00:4::/64'], tunnelIP6: 'fd00:1::1/64' },
    { name: 'v6', tunnelIP: '10.0.5.1', netmask: '255.255.255.252', mtu: 1500, remoteServer: '2001:db8::5', routes: [] },
  ];
  assert.equal(decodeState(encodeState(more, 0xdeadbeef)), more);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ut-site-'));
  const file = path.join(dir, 'state.json');
  assert.is(loadSite(file), undefined, 'no file: no site');
  saveState(file, more, 0xdeadbeef, { home: 0x1234abcd });
  assert.is(loadSite(file), 0xdeadbeef);
  assert.equal(loadPeerSites(file), { home: 0x1234abcd });
  assert.equal(loadState(file), more);
  fs.writeFileSync(file, encodeState(tunnels)); // an earlier version's file
  assert.is(loadSite(file), undefined);
  assert.equal(loadPeerSites(file), {});
  fs.writeFileSync(file, JSON.stringify({ version: 1, site: -5, tunnels: [], peers: { a: 'x', b: 7 } }));
  assert.is(loadSite(file), undefined, 'a bad site is a new one');
  assert.equal(loadPeerSites(file), { b: 7 }, 'a bad peer entry is left out');
  fs.rmSync(dir, { recursive: true });
});

test('save then load through a file; a missing file is empty; mode 0600', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ut-state-'));
  const file = path.join(dir, 'state.json');
  try {
    assert.equal(loadState(file), []);
    saveState(file, tunnels);
    assert.equal(loadState(file), tunnels);
    assert.is(fs.statSync(file).mode & 0o777, 0o600);
    saveState(file, tunnels.slice(1));
    assert.equal(loadState(file), tunnels.slice(1));
    assert.equal(fs.readdirSync(dir), ['state.json']); // no temp file left behind
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a tunnel an earlier version made with a leading - _ or . is restored', () => {
  const t = decodeState('{"version":1,"tunnels":[{"name":"-x","tunnelIP":"10.0.0.1","remoteServer":"192.0.2.2"}]}');
  assert.is(t[0].name, '-x');
});

test('a damaged or hand-edited file is refused with the field named', () => {
  assert.throws(() => decodeState('{"version":1,"tunnels":['), /not valid JSON/);
  assert.throws(() => decodeState('{"version":2,"tunnels":[]}'), /state\.version/);
  assert.throws(() => decodeState('{"version":1,"tunnels":[{"name":"x;y","tunnelIP":"10.0.0.1","remoteServer":"192.0.2.2"}]}'), /state\.tunnels\[0\]\.name/);
});

test.run();
