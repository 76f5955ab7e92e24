import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ConfigError,
  array,
  bool,
  int,
  interfaceName,
  jsonErrorOffset,
  loadJsonFile,
  object,
  oneOf,
  optional,
  parseJson,
  port,
  rejectUnknownKeys,
  str,
} from '../../src/lib/config';

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.instance(err, ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

test('ConfigError carries field and reason', () => {
  const err = new ConfigError('peers[1]', '"10.0.0.300" is not an IPv4 address');
  assert.is(err.message, 'peers[1]: "10.0.0.300" is not an IPv4 address');
  assert.is(err.field, 'peers[1]');
  assert.is(err.reason, '"10.0.0.300" is not an IPv4 address');
});

test('int', () => {
  assert.is(int(5, 'n', { min: 1, max: 10 }), 5);
  assert.is(message(() => int('5', 'n')), 'n: expected an integer, got "5"');
  assert.is(message(() => int(1.5, 'n')), 'n: expected an integer, got 1.5');
  assert.is(message(() => int(11, 'ttl', { min: 1, max: 10 })), 'ttl: 11 is out of range 1..10');
  assert.is(message(() => int(0, 'n', { min: 1 })), 'n: 0 is out of range 1 or more');
  assert.is(message(() => int(undefined, 'n')), 'n: expected an integer, got nothing');
});

test('str', () => {
  assert.is(str('x', 's'), 'x');
  assert.is(str('', 's', { empty: true }), '');
  assert.is(message(() => str('', 's')), 's: must not be empty');
  assert.is(message(() => str(3, 's')), 's: expected a string, got 3');
  assert.is(message(() => str('abcd', 's', { max: 3 })), 's: "abcd" is longer than 3 characters');
});

test('bool and oneOf', () => {
  assert.is(bool(false, 'b'), false);
  assert.is(message(() => bool('yes', 'b')), 'b: expected true or false, got "yes"');
  assert.is(oneOf('warn', 'logLevel', ['info', 'warn'] as const), 'warn');
  assert.is(message(() => oneOf('loud', 'logLevel', ['info', 'warn'])), 'logLevel: expected one of "info", "warn", got "loud"');
});

test('array validates items with indexed field names', () => {
  assert.equal(array([1, 2], 'ports', port), [1, 2]);
  assert.is(message(() => array([80, 0], 'ports', port)), 'ports[1]: 0 is out of range 1..65535');
  assert.is(message(() => array({}, 'ports', port)), 'ports: expected an array, got {}');
  assert.is(message(() => array([1, 2, 3], 'ports', port, { max: 2 })), 'ports: has 3 entries, at most 2 allowed');
  assert.is(message(() => array([], 'ports', port, { min: 1 })), 'ports: needs at least 1 entry');
});

test('object and rejectUnknownKeys', () => {
  assert.equal(object({ a: 1 }, 'x'), { a: 1 });
  assert.is(message(() => object([], 'x')), 'x: expected an object, got []');
  assert.is(message(() => object(null, 'x')), 'x: expected an object, got null');
  rejectUnknownKeys({ logLevel: 'info' }, '', ['logLevel']);
  assert.is(message(() => rejectUnknownKeys({ logLevel2: 'info' }, '', ['logLevel'])), 'logLevel2: unknown key');
  assert.is(message(() => rejectUnknownKeys({ prot: 1 }, 'peers[0]', ['port'])), 'peers[0].prot: unknown key');
});

test('optional uses the fallback only when absent', () => {
  assert.is(optional(undefined, 'p', port, 1900), 1900);
  assert.is(optional(5353, 'p', port, 1900), 5353);
  assert.is(message(() => optional(null, 'p', port, 1900)), 'p: expected an integer, got null');
});

test('interfaceName follows the kernel rules and refuses "@"', () => {
  for (const ok of ['br0', 'eth8', 'switch0.10', 'br-lan', 'wg_0', 'abcdefghijklmno']) assert.is(interfaceName(ok, 'i'), ok);
  assert.is(message(() => interfaceName('abcdefghijklmnop', 'i')), 'i: "abcdefghijklmnop" is not a valid interface name (at most 15 characters)');
  assert.is(message(() => interfaceName('eth0.10@eth0', 'i')), `i: "eth0.10@eth0" is not a valid interface name (use the part before '@', "eth0.10")`);
  assert.is(message(() => interfaceName('eth 0', 'i')), `i: "eth 0" is not a valid interface name (no '/', ':' or whitespace allowed)`);
  assert.is(message(() => interfaceName('eth0:1', 'i')), `i: "eth0:1" is not a valid interface name (no '/', ':' or whitespace allowed)`);
  assert.is(message(() => interfaceName('a/b', 'i')), `i: "a/b" is not a valid interface name (no '/', ':' or whitespace allowed)`);
  assert.is(message(() => interfaceName('..', 'i')), 'i: ".." is not a valid interface name (reserved name)');
  assert.is(message(() => interfaceName('', 'i')), 'i: must not be empty');
});

test('port', () => {
  assert.is(port(65535, 'p'), 65535);
  assert.is(message(() => port(65536, 'p')), 'p: 65536 is out of range 1..65535');
});

test('jsonErrorOffset agrees with V8 where V8 reports a position', () => {
  const cases = ['{"a":1,}', '{\n  "a": 1\n  "b": 2\n}', '[1,2', '{a:1}', '"abc', '{"a":1} x', '{"a":"\u0001"}', '[01]', '["\\x"]', '[1.]', '{"a" 1}'];
  for (const text of cases) {
    let v8 = -2;
    try {
      JSON.parse(text);
    } catch (err) {
      const m = /at position (\d+)/.exec((err as Error).message);
      if (m) v8 = Number(m[1]);
    }
    if (v8 >= 0) assert.is(jsonErrorOffset(text), v8, text);
    assert.ok(jsonErrorOffset(text) >= 0, text);
  }
  assert.is(jsonErrorOffset('{"a": [1, 2.5e-3, true, false, null, "\\u00e9\\n"]}'), -1);
});

test('parseJson reports line and column', () => {
  assert.is(message(() => parseJson('{\n  "a": 1\n  "b": 2\n}', 'config.json')),
    "config.json: invalid JSON: Expected ',' or '}' after property value at line 3 column 3");
  assert.is(message(() => parseJson('{\n  "a": }\n', 'config.json')),
    "config.json: invalid JSON: Unexpected token '}' at line 2 column 8");
  assert.match(message(() => parseJson('{\n  "a": [1,\n', 'config.json')),
    /^config\.json: invalid JSON: .* at line 3 column 1$/);
  assert.equal(parseJson('\ufeff{"a":1}', 'x'), { a: 1 });
});

test('loadJsonFile reads a file and names it in errors', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'udm-config-'));
  const file = path.join(dir, 'config.json');
  fs.writeFileSync(file, '{"logLevel": "info"}\n');
  assert.equal(loadJsonFile(file), { logLevel: 'info' });
  fs.writeFileSync(file, '{"logLevel": info}\n');
  assert.is(message(() => loadJsonFile(file)), `${file}: invalid JSON: Unexpected token 'i' at line 1 column 14`);
  assert.is(message(() => loadJsonFile(path.join(dir, 'nope.json'))), `${path.join(dir, 'nope.json')}: cannot read: no such file`);
  fs.rmSync(dir, { recursive: true });
});

test.run();
