// Properties of udp-tunnel's state file: ConfigError or the tunnels; encode then decode is
// the identity; a mutated file is refused or gives specs that validate again unchanged.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeState, encodeState } from '../../src/udp-tunnel/state-file';
import { existingTunnelName, tunnelSpec, type TunnelSpec } from '../../src/udp-tunnel/tunnel-spec';
import { anyJsonText, decodeOrRefuse, fc, holds, ipv4Text, mutatedText, refusedOrValid } from '../property';

const unicast = ipv4Text.filter((a) => Number(a.split('.')[0]) > 0 && Number(a.split('.')[0]) < 224);
const spec: fc.Arbitrary<TunnelSpec> = fc
  .record(
    {
      name: fc.stringMatching(/^[A-Za-z0-9_.-]{1,15}$/).filter((n) => n !== '.' && n !== '..'),
      tunnelIP: unicast,
      netmask: fc.integer({ min: 1, max: 32 }).map(String),
      mtu: fc.integer({ min: 68, max: 65000 }),
      remoteServer: unicast,
      routes: fc.uniqueArray(fc.tuple(unicast, fc.nat(32)).map(([a, l]) => `${a}/${l}`), { maxLength: 3 }),
    },
    { noNullPrototype: true },
  )
  .map((s) => tunnelSpec(s, 't', existingTunnelName));

test('any file: ConfigError or tunnels, never another throw', () => {
  holds(fc.property(anyJsonText, (t) => void decodeOrRefuse(() => decodeState(t))), 1000);
});

test('encode then decode gives back the tunnels', () => {
  holds(fc.property(fc.array(spec, { maxLength: 5 }), (tunnels) => assert.equal(decodeState(encodeState(tunnels)), tunnels)));
});

test('a mutated file is refused, or gives tunnels that validate again unchanged', () => {
  const mutated = mutatedText(fc.array(spec, { minLength: 1, maxLength: 3 }), encodeState);
  refusedOrValid(mutated, decodeState, (got) => {
    for (const t of got) assert.equal(tunnelSpec(t, 't', existingTunnelName), t);
  });
});

test.run();
