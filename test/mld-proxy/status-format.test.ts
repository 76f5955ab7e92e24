import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { MldProxyStatus } from '../../src/mld-proxy/daemon';
import { formatStatus } from '../../src/mld-proxy/status-format';

const status: MldProxyStatus = {
  upstream: { name: 'eth9', present: true, groups: 1, sockets: 1 },
  downstream: [{ name: 'br0', present: true, capturing: true }, { name: 'br10', present: false, capturing: false }],
  prefixes: ['2001:db8:1::/64'],
  timeoutMs: 1_800_000,
  maxAddresses: 4096,
  addresses: [{ address: '2001:db8:1::1234:5678', group: 'ff02::1:ff34:5678', interface: 'br0', lastSeen: 1_000_000, joined: true, source: 'ndp' }],
  counters: { frames: 5, ndp: 4, malformed: { 'hop-limit': 1 }, ignored: {}, refused: 0, learned: 0, joinFailures: 0, joins: 1, leaves: 0 },
  startedAt: 0,
};

test('shows interfaces, counters and one row per address', () => {
  const out = formatStatus(status, 1_042_000);
  assert.match(out, 'downstream: br0 (capturing), br10 (missing)');
  assert.match(out, 'malformed:  hop-limit 1');
  assert.match(out, /^2001:db8:1::1234:5678 +ff02::1:ff34:5678 +br0 +42s ago +yes +ndp$/m);
});

test('says so when nothing is learned yet', () => {
  assert.match(formatStatus({ ...status, addresses: [], prefixes: [] }, 0), 'no addresses learned yet');
  assert.match(formatStatus({ ...status, addresses: [], prefixes: [] }, 0), 'prefixes:   none yet');
});

test.run();
