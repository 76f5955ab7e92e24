import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeState, encodeState, loadState, saveState } from '../../src/udp-tunnel/state-file';
import type { TunnelSpec } from '../../src/udp-tunnel/tunnel-spec';

const tunnels: TunnelSpec[] = [
  { name: 'udp2', tunnelIP: '10.0.1.1', netmask: '255.255.255.252', mtu: 1500, remoteServer: '192.0.2.2', routes: ['192.168.2.0/24'] },
  { name: 'udp3', tunnelIP: '10.0.3.1', netmask: '255.255.255.0', mtu: 1400, remoteServer: '192.0.2.3', routes: [] },
];

test('encode/decode round trip', () => {
  assert.equal(decodeState(encodeState(tunnels)), tunnels);
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
