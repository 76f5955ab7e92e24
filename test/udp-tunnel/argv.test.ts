import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rewriteOriginalFlags } from '../../src/udp-tunnel/argv';

test("the original server's -dp/-cp and long camelCase flags", () => {
  assert.equal(rewriteOriginalFlags(['-dp', '5000', '-cp', '5001']), ['--data-port', '5000', '--control-port', '5001']);
  assert.equal(rewriteOriginalFlags(['--dataPort=6000', '--controlPort', '6001']), ['--data-port=6000', '--control-port', '6001']);
});

test("the original client's -tm netmask and -m MTU; -m with a mask is the netmask", () => {
  assert.equal(rewriteOriginalFlags(['-tm', '255.255.255.0', '-m', '1400']), ['--netmask', '255.255.255.0', '--mtu', '1400']);
  assert.equal(rewriteOriginalFlags(['-m', '255.255.255.0']), ['--netmask', '255.255.255.0']);
  assert.equal(rewriteOriginalFlags(['-m', '24']), ['--netmask', '24']);
  assert.equal(rewriteOriginalFlags(['-m=1500']), ['--mtu', '1500']);
});

test('other flags and everything after -- pass unchanged', () => {
  assert.equal(rewriteOriginalFlags(['-s', '1.2.3.4', '--', '-dp']), ['-s', '1.2.3.4', '--', '-dp']);
});

test.run();
