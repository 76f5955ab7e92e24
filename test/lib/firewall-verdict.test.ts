import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { evaluate, parseTable, ruleMatches, words } from '../../src/lib/firewall-verdict';
import { parseRoutes4, parseRoutes6, routeInterface } from '../../src/lib/route-lookup';
import { UNIFI_SAVE as UNIFI } from './unifi-table';

const t = parseTable(UNIFI);

test('words: quoted comments stay one word', () => {
  assert.equal(words('-m comment --comment "a b" -j ACCEPT'), ['-m', 'comment', '--comment', 'a b', '-j', 'ACCEPT']);
});

test('a new flow on the WAN is dropped by the WAN chain, and says which rule', () => {
  assert.equal(evaluate(t, { source: '192.0.2.2', iface: 'eth8', dport: 5000 }), { outcome: 'dropped', rule: '-A UBIOS_WAN_LOCAL_USER -j DROP' });
  assert.equal(evaluate(t, { source: '10.0.0.2', iface: 'wgsts1000', dport: 1901 }).outcome, 'dropped');
});

test('from a LAN bridge it falls through to the INPUT policy', () => {
  assert.equal(evaluate(t, { source: '192.168.1.5', iface: 'br0', dport: 53 }), { outcome: 'accepted', rule: 'INPUT policy ACCEPT' });
});

test("an owner's allow rule ahead of the drop lets exactly that peer and port in", () => {
  const mine = parseTable(UNIFI.replace('-A UBIOS_WAN_LOCAL_USER -m conntrack --ctstate INVALID', '-A UBIOS_WAN_LOCAL_USER -s 192.0.2.2/32 -p udp -m udp --dport 5000 -j RETURN\n-A UBIOS_WAN_LOCAL_USER -m conntrack --ctstate INVALID'));
  assert.equal(evaluate(mine, { source: '192.0.2.2', iface: 'eth8', dport: 5000 }).outcome, 'accepted');
  assert.equal(evaluate(mine, { source: '192.0.2.3', iface: 'eth8', dport: 5000 }).outcome, 'dropped');
  assert.equal(evaluate(mine, { source: '192.0.2.2', iface: 'eth8', dport: 5001 }).outcome, 'dropped');
  const ports = parseTable(UNIFI.replace('-A UBIOS_WAN_LOCAL_USER -j DROP', '-A UBIOS_WAN_LOCAL_USER -p udp -m multiport --dports 1900:1910,5000 -j ACCEPT\n-A UBIOS_WAN_LOCAL_USER -j DROP'));
  assert.equal(evaluate(ports, { source: '10.0.0.2', iface: 'wgsts1000', dport: 1901 }).outcome, 'accepted');
});

test('tcp (the metrics endpoint): a udp rule does not let it in, a tcp one does', () => {
  const mixed = parseTable(UNIFI.replace('-A UBIOS_WAN_LOCAL_USER -j DROP', '-A UBIOS_WAN_LOCAL_USER -p udp -m udp --dport 9100 -j RETURN\n-A UBIOS_WAN_LOCAL_USER -s 10.0.0.0/8 -p tcp -m tcp --dport 9100 -j RETURN\n-A UBIOS_WAN_LOCAL_USER -j DROP'));
  assert.is(evaluate(mixed, { source: '192.0.2.9', iface: 'eth8', dport: 9100, protocol: 'tcp' }).outcome, 'dropped');
  assert.is(evaluate(mixed, { source: '10.1.2.3', iface: 'eth8', dport: 9100, protocol: 'tcp' }).outcome, 'accepted');
  assert.is(evaluate(mixed, { source: '192.0.2.9', iface: 'eth8', dport: 9100 }).outcome, 'accepted');
});

test('a match it cannot judge: both ways followed; cannot tell when they differ, named', () => {
  const set = parseTable(UNIFI.replace('-A UBIOS_WAN_LOCAL_USER -j DROP', '-A UBIOS_WAN_LOCAL_USER -m set --match-set PEERS src -j RETURN\n-A UBIOS_WAN_LOCAL_USER -j DROP'));
  assert.equal(evaluate(set, { source: '192.0.2.2', iface: 'eth8', dport: 5000 }), { rule: '-A UBIOS_WAN_LOCAL_USER -m set --match-set PEERS src -j RETURN' });
  // Where both ways end alike, the answer stands.
  const log = parseTable(UNIFI.replace('-A UBIOS_WAN_LOCAL_USER -j DROP', '-A UBIOS_WAN_LOCAL_USER -m limit --limit 1/s -j LOG\n-A UBIOS_WAN_LOCAL_USER -j DROP'));
  assert.is(evaluate(log, { source: '192.0.2.2', iface: 'eth8', dport: 5000 }).outcome, 'dropped');
  assert.is(ruleMatches(words('-i eth8 -j X'), { source: '1.2.3.4', dport: 1 }), undefined);
  assert.is(ruleMatches(words('! -i eth8 -j X'), { source: '1.2.3.4', iface: 'br0', dport: 1 }), true);
});

test('routes: the longest prefix wins; the default route names the WAN', () => {
  const r4 = parseRoutes4(
    'Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n' +
      'eth8\t00000000\t010264C6\t0003\t0\t0\t0\t00000000\t0\t0\t0\n' +
      'wgsts1000\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n',
  );
  assert.is(routeInterface(r4, '10.0.0.2'), 'wgsts1000');
  assert.is(routeInterface(r4, '192.0.2.2'), 'eth8');
  const r6 = parseRoutes6('fd000000000000000000000000000000 08 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001 wgsts1000\n');
  assert.is(routeInterface(r6, 'fd00::2'), 'wgsts1000');
  assert.is(routeInterface(r6, '2001:db8::1'), undefined);
});

test.run();
