import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chainName, describeRule, hasUnifiChains, parseChainRule, parseSave, plan, removal, ruleArgs, ruleKey, wantedRules } from '../../src/lib/firewall-rules';
import { UNIFI_SAVE as UNIFI } from './unifi-table';

const withOurs = (input: string[], rules: string[]) =>
  UNIFI.replace(':UBIOS_INPUT_JUMP', `:UDM_PROXIES_UDP_TUNNEL - [0:0]\n:UBIOS_INPUT_JUMP`)
    .replace('-A INPUT -j UBIOS_INPUT_JUMP', [...input, '-A INPUT -j UBIOS_INPUT_JUMP'].join('\n'))
    .replace('COMMIT', [...rules.map((r) => `-A UDM_PROXIES_UDP_TUNNEL ${r}`), 'COMMIT'].join('\n'));
const JUMP = '-A INPUT -m comment --comment "udm-proxies:udp-tunnel" -j UDM_PROXIES_UDP_TUNNEL';
const DATA = '-s 192.0.2.2/32 -p udp -m udp --dport 5000 -m comment --comment "udm-proxies:udp-tunnel data port" -j ACCEPT';
const wanted = wantedRules('udp-tunnel', [{ what: 'data port', port: 5000, from: ['192.0.2.2'] }], 4);

test('chainName: upper case, within iptables 28 characters', () => {
  assert.is(chainName('udp-tunnel'), 'UDM_PROXIES_UDP_TUNNEL');
  assert.ok(chainName('a-very-long-proxy-name-indeed').length <= 28);
});

test('wantedRules: one rule per source of the family, canonical prefixes, no duplicates', () => {
  const r = wantedRules('udp-proxy', [
    { what: 'rule a', port: 53, from: ['10.0.0.0/8', 'fd00::/8', '10.0.0.1/8'] },
    { what: 'rule b', port: 54, from: [], to: 'fd00::1' },
  ], 4);
  assert.equal(r.map(ruleArgs), ['-s 10.0.0.0/8 -p udp -m udp --dport 53 -m comment --comment "udm-proxies:udp-proxy rule a" -j ACCEPT']);
  const r6 = wantedRules('udp-proxy', [{ what: 'rule b', port: 54, from: [], to: 'fd00::1' }], 6);
  assert.equal(r6.map(ruleArgs), ['-d fd00::1/128 -p udp -m udp --dport 54 -m comment --comment "udm-proxies:udp-proxy rule b" -j ACCEPT']);
  assert.is(describeRule('udp-proxy', r6[0]), 'udp 54 to fd00::1/128 from anywhere (rule b)');
});

test('ruleArgs is read back by parseChainRule', () => {
  assert.equal(parseChainRule(ruleArgs(wanted[0])), wanted[0]);
  assert.is(parseChainRule('-p tcp -j ACCEPT'), undefined);
});

test('a tcp opening (the metrics port): its rule says tcp, is read back, and is described as tcp', () => {
  const [r] = wantedRules('mld-proxy', [{ what: 'metrics', protocol: 'tcp', port: 9811, from: ['192.168.1.10'], to: '192.168.1.1' }], 4);
  assert.is(ruleArgs(r), '-s 192.168.1.10/32 -d 192.168.1.1/32 -p tcp -m tcp --dport 9811 -m comment --comment "udm-proxies:mld-proxy metrics" -j ACCEPT');
  assert.equal(parseChainRule(ruleArgs(r)), r);
  assert.is(describeRule('mld-proxy', r), 'tcp 9811 to 192.168.1.1/32 from 192.168.1.10/32 (metrics)');
  assert.is.not(ruleKey(r), ruleKey({ ...r, protocol: undefined }));
});

test('parseSave: the filter section only; UniFi is recognised by its hook', () => {
  const v = parseSave(`*nat\n:X - [0:0]\n-A X -j ACCEPT\nCOMMIT\n${UNIFI}`);
  assert.ok(v.chains.has('UBIOS_WAN_LOCAL_USER'));
  assert.not.ok(v.chains.has('X'));
  assert.equal(v.input, ['-j UBIOS_INPUT_JUMP']);
  assert.ok(hasUnifiChains(v));
  assert.not.ok(hasUnifiChains(parseSave('*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n')));
});

test('plan on a fresh UniFi table: the chain, its rules and the jump on top', () => {
  const p = plan('udp-tunnel', parseSave(UNIFI), wanted);
  assert.is(p.script, ['*filter', ':UDM_PROXIES_UDP_TUNNEL - [0:0]', `-A UDM_PROXIES_UDP_TUNNEL ${DATA}`, JUMP.replace('-A INPUT', '-I INPUT 1'), 'COMMIT', ''].join('\n'));
  assert.ok(p.rulesWritten && p.jumpPlaced);
});

test('plan when all is in place: nothing to write', () => {
  const p = plan('udp-tunnel', parseSave(withOurs([JUMP], [DATA])), wanted);
  assert.is(p.script, '');
});

test('plan: changed rules rewrite the chain only; the jump stays', () => {
  const p = plan('udp-tunnel', parseSave(withOurs([JUMP], [DATA])), []);
  assert.is(p.script, '*filter\n:UDM_PROXIES_UDP_TUNNEL - [0:0]\nCOMMIT\n');
});

test('plan: duplicate jumps, or one behind UniFi hook, are removed by spec and one put on top', () => {
  const dup = plan('udp-tunnel', parseSave(withOurs([JUMP, JUMP], [DATA])), wanted);
  assert.is(dup.jumpsRemoved, 2);
  assert.is(dup.script.split('\n').filter((l) => l.startsWith('-D INPUT -m comment')).length, 2);
  assert.ok(dup.script.includes('-I INPUT 1 -m comment --comment "udm-proxies:udp-tunnel" -j UDM_PROXIES_UDP_TUNNEL'));
  const behind = parseSave(withOurs([], [DATA]).replace('-A INPUT -j UBIOS_INPUT_JUMP', `-A INPUT -j UBIOS_INPUT_JUMP\n${JUMP}`));
  assert.ok(plan('udp-tunnel', behind, wanted).jumpPlaced);
  assert.not.ok(plan('udp-tunnel', behind, wanted).script.includes(':UDM_PROXIES'));
});

test('removal: every jump, then the chain; nothing when none is there', () => {
  assert.is(removal('udp-tunnel', parseSave(UNIFI)), '');
  assert.is(
    removal('udp-tunnel', parseSave(withOurs([JUMP], [DATA]))),
    '*filter\n-D INPUT -m comment --comment "udm-proxies:udp-tunnel" -j UDM_PROXIES_UDP_TUNNEL\n-F UDM_PROXIES_UDP_TUNNEL\n-X UDM_PROXIES_UDP_TUNNEL\nCOMMIT\n',
  );
});

test.run();
