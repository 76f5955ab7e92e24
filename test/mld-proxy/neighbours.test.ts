import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatIPv6 } from '../../src/lib/ip';
import { aliveAddresses, parseNeighbourJson } from '../../src/mld-proxy/neighbours';

// Shaped like `ip -j -6 neigh show dev br0` from iproute2 6.x.
const SAMPLE = JSON.stringify([
  { dst: '2001:db8::1', lladdr: '52:54:00:12:34:56', state: ['REACHABLE'] },
  { dst: '2001:db8::2', lladdr: '52:54:00:12:34:57', state: ['STALE'] },
  { dst: '2001:db8::3', lladdr: '52:54:00:12:34:58', state: ['DELAY'] },
  { dst: '2001:db8::4', lladdr: '52:54:00:12:34:59', state: ['PROBE'] },
  { dst: '2001:db8::5', state: ['FAILED'] },
  { dst: '2001:db8::6', state: ['INCOMPLETE'] },
  { dst: '2001:db8::7', lladdr: '52:54:00:12:34:5a', state: ['PERMANENT'] },
  { dst: '2001:DB8:0::8', lladdr: '52:54:00:12:34:5b', router: null, state: ['REACHABLE'] },
  { dst: 'fe80::1', lladdr: '52:54:00:12:34:5c', router: null, state: ['STALE'] },
  { dst: 'ff02::1', lladdr: '33:33:00:00:00:01', state: ['NOARP'] },
  { dst: '2001:db8::9', lladdr: '52:54:00:12:34:5d' },
]);

test('parses every state and marks only REACHABLE, DELAY, PROBE alive', () => {
  const entries = parseNeighbourJson(SAMPLE);
  assert.equal(
    entries.map((e) => [e.address, e.state, e.alive]),
    [
      ['2001:db8::1', 'REACHABLE', true],
      ['2001:db8::2', 'STALE', false],
      ['2001:db8::3', 'DELAY', true],
      ['2001:db8::4', 'PROBE', true],
      ['2001:db8::5', 'FAILED', false],
      ['2001:db8::6', 'INCOMPLETE', false],
      ['2001:db8::7', 'PERMANENT', false],
      ['2001:db8::8', 'REACHABLE', true],
      ['fe80::1', 'STALE', false],
      ['ff02::1', 'NOARP', false],
      ['2001:db8::9', 'NONE', false],
    ],
  );
  assert.equal(aliveAddresses(entries).map(formatIPv6), ['2001:db8::1', '2001:db8::3', '2001:db8::4', '2001:db8::8']);
});

test('several state flags are joined', () => {
  const [e] = parseNeighbourJson('[{"dst":"2001:db8::1","state":["REACHABLE","NOARP"]}]');
  assert.is(e.state, 'REACHABLE|NOARP');
  assert.is(e.alive, true);
});

test('empty output and empty array give no entries', () => {
  assert.equal(parseNeighbourJson(''), []);
  assert.equal(parseNeighbourJson(' \n'), []);
  assert.equal(parseNeighbourJson('[]\n'), []);
  assert.equal(parseNeighbourJson('[ ]'), []);
});

test('garbage throws a message naming what was wrong', () => {
  const cases: [string, RegExp][] = [
    ['Cannot find device "br9"', /neighbour table is not valid JSON/],
    ['[{"dst":"2001:db8::1"', /neighbour table is not valid JSON/],
    ['{"dst":"2001:db8::1"}', /neighbour table must be a JSON array, got object/],
    ['[1]', /neighbour table \[0\]: must be an object, got number/],
    ['[{"dst":"2001:db8::1"},null]', /neighbour table \[1\]: must be an object, got null/],
    ['[{"lladdr":"52:54:00:12:34:56"}]', /\[0\].dst: must be an IPv6 address string, got undefined/],
    ['[{"dst":"192.0.2.1","state":["REACHABLE"]}]', /\[0\].dst: "192.0.2.1" is not an IPv6 address/],
    ['[{"dst":"2001:db8::1","state":"REACHABLE"}]', /\[0\].state: must be an array of state names like \["REACHABLE"\], got "REACHABLE"/],
    ['[{"dst":"2001:db8::1","state":[1]}]', /\[0\].state: must be an array of state names/],
    ['[{"dst":"2001:db8::1","state":["reachable"]}]', /\[0\].state: must be an array of state names/],
  ];
  for (const [text, re] of cases) assert.throws(() => parseNeighbourJson(text), re, text);
});

test.run();
