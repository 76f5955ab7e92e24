import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeControlBody, encodeControlBody, isHostName, netmask, prefixLengthOf, tunnelName, type TunnelSpec } from '../../src/udp-tunnel/tunnel-spec';

// What the original udpProxyServerControl.py sends (json.dumps of its dict).
const ORIGINAL =
  '{"tunnel": [{"remoteServer": "172.100.1.2", "netmask": "255.255.255.252", "tunnelIP": "10.0.0.1", "mtu": 1500, "name": "udp0"}], "op": "add"}';

test("the original client's add message decodes", () => {
  assert.equal(decodeControlBody(ORIGINAL), {
    op: 'add',
    tunnels: [{ name: 'udp0', tunnelIP: '10.0.0.1', netmask: '255.255.255.252', mtu: 1500, remoteServer: '172.100.1.2', routes: [] }],
  });
});

test('del and delete take a name; the other fields are ignored', () => {
  assert.equal(decodeControlBody(ORIGINAL.replace('"add"', '"del"')), { op: 'del', names: ['udp0'] });
  assert.equal(decodeControlBody('{"op":"delete","tunnel":[{"name":"udp2"}]}'), { op: 'del', names: ['udp2'] });
  assert.equal(decodeControlBody('{"op":"list"}'), { op: 'list' });
});

test('encode round-trips through decode, routes included', () => {
  const spec: TunnelSpec = { name: 'udp2', tunnelIP: '10.0.1.1', netmask: '255.255.255.0', mtu: 1400, remoteServer: '192.0.2.2', routes: ['192.168.2.0/24'] };
  assert.equal(decodeControlBody(encodeControlBody('add', spec)), { op: 'add', tunnels: [spec] });
  assert.equal(decodeControlBody(encodeControlBody('del', { name: 'udp2' })), { op: 'del', names: ['udp2'] });
});

test('defaults: the original client’s /30 netmask and MTU 1500; string MTU of digits accepted', () => {
  const r = decodeControlBody('{"op":"add","tunnel":[{"name":"a","tunnelIP":"10.0.0.1","remoteServer":"192.0.2.2","mtu":"1400"}]}');
  assert.equal(r.op === 'add' && r.tunnels[0].netmask, '255.255.255.252');
  assert.equal(r.op === 'add' && r.tunnels[0].mtu, 1400);
});

test('netmask: dotted, bare and slashed prefix lengths; non-contiguous refused', () => {
  assert.is(netmask('24', 'm'), '255.255.255.0');
  assert.is(netmask('/30', 'm'), '255.255.255.252');
  assert.is(netmask('255.255.0.0', 'm'), '255.255.0.0');
  assert.is(prefixLengthOf('255.255.255.255', 'm'), 32);
  assert.throws(() => netmask('255.0.255.0', 'm'), /contiguous/);
  assert.throws(() => netmask('0.0.0.0', 'm'), /contiguous/);
  assert.throws(() => netmask('33', 'm'), /not a netmask/);
});

const bad: [string, string, RegExp][] = [
  ['not JSON', '{"op": "add", "tunnel": [', /not valid JSON/],
  ['array body', '[]', /JSON object/],
  ['unknown op', '{"op":"rm","tunnel":[]}', /op: expected/],
  ['no tunnel list', '{"op":"add"}', /tunnel: expected an array/],
  ['empty tunnel list', '{"op":"add","tunnel":[]}', /at least 1/],
  ['string MTU', '{"op":"add","tunnel":[{"name":"a","tunnelIP":"10.0.0.1","remoteServer":"192.0.2.2","mtu":"big"}]}', /mtu: expected an integer/],
  ['MTU too small', '{"op":"add","tunnel":[{"name":"a","tunnelIP":"10.0.0.1","remoteServer":"192.0.2.2","mtu":20}]}', /out of range 68/],
  ['MTU too big', '{"op":"add","tunnel":[{"name":"a","tunnelIP":"10.0.0.1","remoteServer":"192.0.2.2","mtu":70000}]}', /out of range/],
  ['long name', '{"op":"add","tunnel":[{"name":"abcdefghijklmnop","tunnelIP":"10.0.0.1","remoteServer":"192.0.2.2"}]}', /tunnel\[0\]\.name/],
  ['name charset', '{"op":"add","tunnel":[{"name":"a b;rm","tunnelIP":"10.0.0.1","remoteServer":"192.0.2.2"}]}', /not a valid tunnel name/],
  ['dot-dot name', '{"op":"del","tunnel":[{"name":".."}]}', /not a valid tunnel name/],
  ['bad address', '{"op":"add","tunnel":[{"name":"a","tunnelIP":"10.0.0.256","remoteServer":"192.0.2.2"}]}', /tunnelIP/],
  ['multicast remote', '{"op":"add","tunnel":[{"name":"a","tunnelIP":"10.0.0.1","remoteServer":"224.0.0.1"}]}', /not a unicast/],
  ['missing remote', '{"op":"add","tunnel":[{"name":"a","tunnelIP":"10.0.0.1"}]}', /remoteServer: is missing/],
  ['unknown key', '{"op":"add","tunnel":[{"name":"a","tunnelIP":"10.0.0.1","remoteServer":"192.0.2.2","x":1}]}', /tunnel\[0\]\.x: unknown key/],
  ['IPv6 route below 1280', '{"op":"add","tunnel":[{"name":"a","tunnelIP":"10.0.0.1","mtu":1400,"remoteServer":"192.0.2.2","routes":["2001:db8::/32"],"mtu":1200}]}', /mtu: 1200 is below 1280/],
  ['tunnelIP6 without a length', '{"op":"add","tunnel":[{"name":"a","tunnelIP":"10.0.0.1","remoteServer":"192.0.2.2","tunnelIP6":"fd00::1"}]}', /tunnelIP6: expected an IPv6 address with its prefix length/],
  ['link-local tunnelIP6', '{"op":"add","tunnel":[{"name":"a","tunnelIP":"10.0.0.1","remoteServer":"192.0.2.2","tunnelIP6":"fe80::1/64"}]}', /not a global or unique-local/],
  ['remote with a numeric top label', '{"op":"add","tunnel":[{"name":"a","tunnelIP":"10.0.0.1","remoteServer":"peer.123"}]}', /neither an IP address nor a DNS name/],
  ['remote 3 octets', '{"op":"add","tunnel":[{"name":"a","tunnelIP":"10.0.0.1","remoteServer":"192.0.2"}]}', /not an IPv4 address/],
  ['remote with a space', '{"op":"add","tunnel":[{"name":"a","tunnelIP":"10.0.0.1","remoteServer":"a b.example"}]}', /neither an IP address nor a DNS name/],
  ['remote label too long', `{"op":"add","tunnel":[{"name":"a","tunnelIP":"10.0.0.1","remoteServer":"${'a'.repeat(64)}.example"}]}`, /neither/],
  ['multicast IPv6 remote', '{"op":"add","tunnel":[{"name":"a","tunnelIP":"10.0.0.1","remoteServer":"ff02::1"}]}', /not a global or unique-local/],
  ['route not a string', '{"op":"add","tunnel":[{"name":"a","tunnelIP":"10.0.0.1","remoteServer":"192.0.2.2","routes":[5]}]}', /routes\[0\]/],
];
test('a new name must start with a letter or digit; the refusal names the rule', () => {
  for (const name of ['-x', '_a', '.a', '-', '--help']) {
    const body = JSON.stringify({ op: 'add', tunnel: [{ name, tunnelIP: '10.0.0.1', remoteServer: '192.0.2.2' }] });
    assert.throws(() => decodeControlBody(body), /tunnel\[0\]\.name: .* is not a valid tunnel name \(1\.\.15 of A-Z a-z 0-9 _ \. -, starting with a letter or digit\)/);
  }
  for (const name of ['a', '0', 'udp2', 'a-b_c.d', 'A23456789012345']) assert.is(tunnelName(name, 'n'), name);
});

test('del takes a name an earlier version let add make (starting with - _ or .)', () => {
  assert.equal(decodeControlBody('{"op":"del","tunnel":[{"name":"-x"}]}'), { op: 'del', names: ['-x'] });
  assert.equal(decodeControlBody('{"op":"del","tunnel":[{"name":"_a"}]}'), { op: 'del', names: ['_a'] });
  assert.throws(() => decodeControlBody('{"op":"del","tunnel":[{"name":"a b"}]}'), /not a valid tunnel name/);
});

test('remoteServer: IPv4, IPv6 (bracketed too) and DNS names, canonical', () => {
  const remote = (r: string) => {
    const m = decodeControlBody(JSON.stringify({ op: 'add', tunnel: [{ name: 'a', tunnelIP: '10.0.0.1', remoteServer: r }] }));
    return m.op === 'add' ? m.tunnels[0].remoteServer : '';
  };
  assert.is(remote('192.0.2.2'), '192.0.2.2');
  assert.is(remote('2001:DB8:0::2'), '2001:db8::2');
  assert.is(remote('[2001:db8::2]'), '2001:db8::2');
  assert.is(remote('Peer.Example.NET.'), 'peer.example.net');
  assert.is(remote('home-2.dyndns.example'), 'home-2.dyndns.example');
  assert.ok(isHostName('peer.example.net'));
  assert.not.ok(isHostName('2001:db8::2'));
  assert.not.ok(isHostName('192.0.2.2'));
});

test('IPv6 inside: tunnelIP6 and IPv6 routes beside IPv4 ones; the original message has neither', () => {
  const m = decodeControlBody('{"op":"add","tunnel":[{"name":"a","tunnelIP":"10.0.0.1","remoteServer":"192.0.2.2","tunnelIP6":"FD00:1::1/64","routes":["192.168.2.0/24","fd00:2::/48","2001:db8::7"]}]}');
  assert.ok(m.op === 'add');
  assert.is(m.tunnels[0].tunnelIP6, 'fd00:1::1/64');
  assert.equal(m.tunnels[0].routes, ['192.168.2.0/24', 'fd00:2::/48', '2001:db8::7/128']);
  const spec = m.tunnels[0];
  assert.equal(decodeControlBody(encodeControlBody('add', spec)), { op: 'add', tunnels: [spec] });
  const o = decodeControlBody(ORIGINAL);
  assert.ok(o.op === 'add' && !('tunnelIP6' in o.tunnels[0]));
});

for (const [what, body, re] of bad) {
  test(`refused: ${what}`, () => assert.throws(() => decodeControlBody(body), re));
}

test.run();
