import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ndpFilter, PACKET_OUTGOING, runFilter } from '../../src/mld-proxy/bpf';
import { encodeNeighborAdvertisement, encodeNeighborSolicitation } from '../../src/mld-proxy/ndp';

const prog = ndpFilter();
const ns = encodeNeighborSolicitation({ source: '::', destination: 'ff02::1:ff00:42', target: '2001:db8::42', srcMac: '52:54:00:00:00:01' });
const na = encodeNeighborAdvertisement({ source: '2001:db8::42', destination: 'ff02::1', target: '2001:db8::42', srcMac: '52:54:00:00:00:01' });

test('keeps received NS and NA whole', () => {
  assert.is(runFilter(prog, ns), 0xffff);
  assert.is(runFilter(prog, na), 0xffff);
});

test("drops the router's own outgoing NDP", () => {
  assert.is(runFilter(prog, ns, PACKET_OUTGOING), 0);
});

test('drops other ICMPv6, other IPv6 and other ethertypes', () => {
  const echo = Uint8Array.from(ns);
  echo[54] = 128; // echo request
  assert.is(runFilter(prog, echo), 0);
  const udp = Uint8Array.from(ns);
  udp[20] = 17;
  assert.is(runFilter(prog, udp), 0);
  const arp = Uint8Array.from(ns);
  arp[12] = 0x08;
  arp[13] = 0x06;
  assert.is(runFilter(prog, arp), 0);
  assert.is(runFilter(prog, ns.subarray(0, 30)), 0, 'short frame');
});

test('every jump lands inside the program', () => {
  prog.forEach((i, pc) => {
    if (i.code !== 0x15) return;
    assert.ok(pc + 1 + i.jt < prog.length && pc + 1 + i.jf < prog.length, `instruction ${pc}`);
  });
});

test.run();
