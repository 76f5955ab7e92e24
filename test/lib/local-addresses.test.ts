import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseIfInet6 } from '../../src/lib/local-addresses';

test('parses /proc/net/if_inet6 into canonical addresses, skipping junk', () => {
  const text = [
    '20010db8000100000000000000000001 05 40 00 80      br0',
    'fe8000000000000000fc00fffe000001 04 40 20 80     eth9',
    'garbage',
    '',
  ].join('\n');
  assert.equal([...parseIfInet6(text)], ['2001:db8:1::1', 'fe80::fc:ff:fe00:1']);
});

test.run();
