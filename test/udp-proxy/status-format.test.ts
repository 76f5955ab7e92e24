import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { UdpProxyStatus } from '../../src/udp-proxy/daemon';
import type { RuleStatus, SessionStatus } from '../../src/udp-proxy/rule';
import { formatStatus } from '../../src/udp-proxy/status-format';

const flow = (packets: number, bytes: number) => ({ packets, bytes });
const session = (i: number): SessionStatus => ({
  client: `10.0.1.${i}:5000`,
  localPort: 40000 + i,
  lastSeen: 1_000_000,
  openedAt: 990_000,
  toUpstream: flow(3, 180),
  toClient: flow(2, 120),
  foreign: 0,
  sendErrors: i === 1 ? 2 : 0,
  socketErrors: 0,
  lastError: i === 1 ? 'EHOSTUNREACH' : undefined,
});
const rule = (extra: Partial<RuleStatus> = {}): RuleStatus => ({
  name: 'wg',
  listen: ':51820',
  listening: true,
  upstream: '10.0.0.254:51820',
  aliases: ['10.0.0.253:51820', '10.0.0.252'],
  replies: [0, 7, 1],
  idleTimeoutMs: 60_000,
  maxSessions: 4096,
  maxSessionsPerClient: 256,
  allow: [],
  counters: {
    toUpstream: flow(10, 12_345_678),
    toClient: flow(8, 900),
    sessionsOpened: 3,
    sessionsExpired: 1,
    sessionsEvicted: 0,
    sessionsEvictedPerClient: 5,
    sendErrors: 2,
    socketErrors: 0,
    drops: { notAllowed: 0, foreignSource: 4, noSocket: 0 },
  },
  sessions: [session(1), session(2)],
  ...extra,
});
const status = (rules: RuleStatus[]): UdpProxyStatus => ({ startedAt: 0, now: 1_005_000, dataPath: { batching: { state: 'on' } }, batch: 64, rules });

test('one block per rule: replies per alias, counters, a row per session', () => {
  const out = formatStatus(status([rule()]));
  assert.match(out, 'rule wg: :51820 -> 10.0.0.254:51820\n');
  assert.match(out, 'replies from:  10.0.0.254:51820 0, 10.0.0.253:51820 7, 10.0.0.252 (any port) 1');
  assert.match(out, 'sessions:      2 of at most 4096 (256 per client), closed after 60s idle; 3 opened, 1 expired, 0 evicted (bound), 5 by their own client\'s newer ones (per-client bound)');
  assert.match(out, /^data path: batched, up to 64 datagrams per system call \(recvmmsg\/sendmmsg\)$/m);
  assert.match(out, 'to upstream:   10 packets, 12 MB');
  assert.match(out, 'dropped:       4 from foreign sources');
  assert.match(out, /^  10\.0\.1\.1:5000 +40001 +5s ago +3 +2 +0 +2 \(EHOSTUNREACH\)$/m);
  assert.match(out, /^  10\.0\.1\.2:5000 +40002 +5s ago +3 +2 +0 +0$/m);
});

test('a rule that cannot listen says so; a default name is not repeated', () => {
  const out = formatStatus(status([rule({ name: ':51820 -> 10.0.0.254:51820', listening: false, sessions: [] })]));
  assert.match(out, /^rule :51820 -> 10\.0\.0\.254:51820 \(NOT LISTENING, retrying\)$/m);
  assert.not.match(out, 'CLIENT');
});

test('long session lists are cut, pointing to --json', () => {
  const sessions = Array.from({ length: 60 }, (_, i) => session(i + 10));
  const out = formatStatus(status([rule({ sessions })]));
  assert.match(out, '... and 10 more (least recently used; see --json)');
  assert.is(out.split('\n').filter((l) => l.startsWith('  10.0.1.')).length, 50);
});

test('the data path in use: batched, off, or refused by the kernel', () => {
  const with_ = (batching: UdpProxyStatus['dataPath']['batching']) => formatStatus({ ...status([]), dataPath: { batching } });
  assert.match(with_({ state: 'off' }), 'data path: one datagram per system call (--no-offload)');
  assert.match(with_({ state: 'refused', detail: 'EINVAL' }), 'data path: one datagram per system call (the kernel refused: EINVAL)');
});

test.run();
