import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigError } from '../../src/lib/config';
import { metricsFlagMessage, metricsFlags, metricsSettings, metricsSocketPath } from '../../src/lib/metrics-config';

test('off when absent', () => {
  assert.is(metricsSettings(undefined), undefined);
  assert.is(metricsFlags(undefined, []), undefined);
});

test('an address and port, IPv4 or IPv6, in canonical form', () => {
  const m = metricsSettings({ listen: '192.168.1.1:9811' })!;
  assert.equal([m.address, m.family, m.port, m.allow], ['192.168.1.1', 4, 9811, []]);
  const six = metricsSettings({ listen: '[fd00:0::1]:9811', allow: ['fd00::/64'] })!;
  assert.equal([six.address, six.family, six.port], ['fd00::1', 6, 9811]);
});

test('the address is required and must be an IP address', () => {
  assert.throws(() => metricsSettings({ listen: ':9811' }), /metrics\.listen: .*ADDR:PORT/);
  assert.throws(() => metricsSettings({ listen: '9811' }), /metrics\.listen/);
  assert.throws(() => metricsSettings({ listen: 'gateway.lan:9811' }), /not a host name/);
  assert.throws(() => metricsSettings({ listen: '192.168.1.1:0' }), /port must be 1\.\.65535/);
  assert.throws(() => metricsSettings({ listen: '192.168.1.1:70000' }), /port must be 1\.\.65535/);
  assert.throws(() => metricsSettings({ allow: ['10.0.0.0/8'] }), /metrics\.listen: missing/);
});

test('a wildcard needs an allow list', () => {
  assert.throws(() => metricsSettings({ listen: '0.0.0.0:9811' }), /metrics\.allow: 0\.0\.0\.0 listens on every address/);
  assert.throws(() => metricsSettings({ listen: '[::]:9811' }), /metrics\.allow: :: listens on every address/);
  assert.is(metricsSettings({ listen: '0.0.0.0:9811', allow: ['192.168.1.0/24'] })!.allow.length, 1);
});

test('the allow list is checked and bounded', () => {
  assert.throws(() => metricsSettings({ listen: '192.168.1.1:9811', allow: ['fd00::/64'] }), /metrics\.allow\[0\]: an IPv6 prefix cannot reach/);
  assert.throws(() => metricsSettings({ listen: '192.168.1.1:9811', allow: ['300.1.1.1/8'] }), /metrics\.allow\[0\]/);
  assert.throws(() => metricsSettings({ listen: '192.168.1.1:9811', allow: Array(65).fill('10.0.0.0/8') }), /at most 64/);
  assert.throws(() => metricsSettings({ listen: '192.168.1.1:9811', port: 1 }), /metrics\.port: unknown key/);
});

test('flag errors are named as the flag', () => {
  try {
    metricsSettings(metricsFlags('0.0.0.0:9811', []));
    assert.unreachable();
  } catch (err) {
    assert.instance(err, ConfigError);
    assert.match(metricsFlagMessage(err as ConfigError)!, /^--metrics-allow: /);
  }
  assert.is(metricsFlagMessage(new ConfigError('port', 'x')), undefined);
});

test('the metrics socket sits beside the control socket', () => {
  assert.is(metricsSocketPath('/run/udp-proxy.sock'), '/run/udp-proxy.metrics.sock');
  assert.is(metricsSocketPath('/tmp/ctl'), '/tmp/ctl.metrics');
});

test.run();
