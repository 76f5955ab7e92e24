import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { nextWidth } from '../../src/udp-proxy/rule';

test('one request in flight: a session socket is asked for one or two datagrams, never 16', () => {
  let w = 1;
  const seen = new Set<number>();
  for (let i = 0; i < 100; i++) {
    w = nextWidth(w, 1, 1, 16);
    seen.add(w);
  }
  assert.equal([...seen].sort(), [1, 2]);
});

test('a burst doubles the width up to the cap; a quiet call brings it back to what it got', () => {
  let w = 1;
  const widths: number[] = [];
  for (let i = 0; i < 6; i++) widths.push((w = nextWidth(w, w, 1, 16)));
  assert.equal(widths, [2, 4, 8, 16, 16, 16]);
  assert.is(nextWidth(16, 5, 1, 16), 5);
  assert.is(nextWidth(16, 0, 1, 16), 1, 'nothing there: the least');
  assert.is(nextWidth(64, 3, 8, 64), 8, "the listener's least");
});

test('an error (negative) is not a count: the least width', () => {
  assert.is(nextWidth(8, -11, 1, 16), 1);
});

test.run();
