import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { byReason, counter, gauge, Histogram, info, render, snake, wantsOpenMetrics } from '../../src/lib/metrics';

test('text format: counters keep _total in HELP and TYPE, gauges as named, labels escaped', () => {
  const out = render(
    [counter('x_drops_total', 'Drops.\nSecond line', [{ labels: { reason: 'a"b\\c\nd' }, value: 3 }]), gauge('x_sessions', 'Now.', 7)],
    false,
  );
  assert.is(
    out,
    [
      '# HELP x_drops_total Drops.\\nSecond line',
      '# TYPE x_drops_total counter',
      'x_drops_total{reason="a\\"b\\\\c\\nd"} 3',
      '# HELP x_sessions Now.',
      '# TYPE x_sessions gauge',
      'x_sessions 7',
      '',
    ].join('\n'),
  );
});

test('OpenMetrics: the family is named without _total or _info, and the exposition ends with # EOF', () => {
  const out = render([counter('x_total', 'X.', 1), info('x_build_info', 'Build.', { version: '1.0' })], true);
  assert.is(out, ['# HELP x X.', '# TYPE x counter', 'x_total 1', '# HELP x_build Build.', '# TYPE x_build info', 'x_build_info{version="1.0"} 1', '# EOF', ''].join('\n'));
});

test('info is a gauge in the text format', () => {
  assert.match(render([info('x_build_info', 'B.', { commit: 'abc' })], false), '# TYPE x_build_info gauge\nx_build_info{commit="abc"} 1\n');
});

test('a NaN sample (no /proc) is left out; infinities are written as Prometheus spells them', () => {
  const out = render([gauge('a', 'A.', NaN), gauge('b', 'B.', Infinity)], false);
  assert.not.match(out, /^a /m);
  assert.match(out, /^b \+Inf$/m);
});

test('counter and info names are checked', () => {
  assert.throws(() => counter('x_drops', 'X.', 1), /_total/);
  assert.throws(() => info('x_build', 'X.', {}), /_info/);
});

test('histogram: cumulative buckets, +Inf, _sum and _count', () => {
  const h = new Histogram([0.1, 1]);
  for (const v of [0.05, 0.1, 0.5, 3]) h.observe(v);
  const out = render([{ name: 'lat_seconds', help: 'L.', type: 'histogram', samples: [h.sample({ lan: 'br0' })] }], false);
  assert.match(out, 'lat_seconds_bucket{lan="br0",le="0.1"} 2\n');
  assert.match(out, 'lat_seconds_bucket{lan="br0",le="1"} 3\n');
  assert.match(out, 'lat_seconds_bucket{lan="br0",le="+Inf"} 4\n');
  assert.match(out, 'lat_seconds_sum{lan="br0"} 3.65\n');
  assert.match(out, 'lat_seconds_count{lan="br0"} 4\n');
});

test('byReason: one sample per key, in snake_case, beside the given labels', () => {
  assert.equal(byReason({ notAllowed: 1, 'bad-auth': 2 }, { peer: 'p' }), [
    { labels: { peer: 'p', reason: 'not_allowed' }, value: 1 },
    { labels: { peer: 'p', reason: 'bad_auth' }, value: 2 },
  ]);
  assert.equal(byReason(undefined), []);
  assert.is(snake('tunFull'), 'tun_full');
});

test("Accept: OpenMetrics only when named with a q above 0 (Prometheus' own header picks it)", () => {
  assert.ok(wantsOpenMetrics('application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'));
  assert.not.ok(wantsOpenMetrics(undefined));
  assert.not.ok(wantsOpenMetrics('text/plain'));
  assert.not.ok(wantsOpenMetrics('application/openmetrics-text; q=0'));
});

test.run();
