import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createLogger, formatLine, parseLevel, rateLimited } from '../../src/lib/log';

const T = new Date('2026-11-22T02:49:47.123Z');
const now = () => T;

function tmpdir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'udm-log-'));
}

test('line format: ISO time, level padded to 5', () => {
  assert.is(formatLine(T, 'info', 'started'), '2026-11-22T02:49:47.123Z INFO  started');
  assert.is(formatLine(T, 'error', 'x'), '2026-11-22T02:49:47.123Z ERROR x');
  assert.is(formatLine(T, 'warn', 'y'), '2026-11-22T02:49:47.123Z WARN  y');
});

test('without a file lines go to write(), filtered by level', () => {
  const lines: string[] = [];
  const log = createLogger({ now, write: (l) => lines.push(l) });
  log.debug('hidden');
  log.info('shown');
  log.setLevel('debug');
  log.debug('now shown');
  log.setLevel('error');
  log.warn('hidden again');
  log.error('bad');
  assert.equal(lines, [
    '2026-11-22T02:49:47.123Z INFO  shown',
    '2026-11-22T02:49:47.123Z DEBUG now shown',
    '2026-11-22T02:49:47.123Z ERROR bad',
  ]);
});

test('parseLevel names the valid levels', () => {
  assert.is(parseLevel('warn'), 'warn');
  assert.throws(() => parseLevel('verbose'), /invalid log level "verbose" \(valid levels: debug, info, warn, error\)/);
});

test('appends to an existing file', () => {
  const dir = tmpdir();
  const file = path.join(dir, 'p.log');
  fs.writeFileSync(file, 'old\n');
  const log = createLogger({ file, now });
  log.info('one');
  log.close();
  assert.is(fs.readFileSync(file, 'utf8'), 'old\n2026-11-22T02:49:47.123Z INFO  one\n');
  fs.rmSync(dir, { recursive: true });
});

test('rotates when the next line would exceed maxBytes', () => {
  const dir = tmpdir();
  const file = path.join(dir, 'p.log');
  const lineBytes = formatLine(T, 'info', 'm0').length + 1;
  const log = createLogger({ file, now, maxBytes: lineBytes * 2, keep: 2 });
  for (let i = 0; i < 7; i++) log.info(`m${i}`);
  log.close();
  const read = (f: string) => fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => l.slice(-2));
  assert.equal(read(file), ['m6']);
  assert.equal(read(file + '.1'), ['m4', 'm5']);
  assert.equal(read(file + '.2'), ['m2', 'm3']);
  assert.not.ok(fs.existsSync(file + '.3'));
  fs.rmSync(dir, { recursive: true });
});

test('keep: 0 truncates instead of keeping old files', () => {
  const dir = tmpdir();
  const file = path.join(dir, 'p.log');
  const log = createLogger({ file, now, maxBytes: 60, keep: 0 });
  log.info('first line');
  log.info('second line');
  log.close();
  assert.ok(fs.readFileSync(file, 'utf8').endsWith('second line\n'));
  assert.not.ok(fs.readFileSync(file, 'utf8').includes('first'));
  assert.equal(fs.readdirSync(dir), ['p.log']);
  fs.rmSync(dir, { recursive: true });
});

test('reopen() follows logrotate moving the file away', () => {
  const dir = tmpdir();
  const file = path.join(dir, 'p.log');
  const log = createLogger({ file, now });
  log.info('before');
  fs.renameSync(file, file + '.moved');
  log.reopen();
  log.info('after');
  log.close();
  assert.match(fs.readFileSync(file + '.moved', 'utf8'), /before\n$/);
  assert.match(fs.readFileSync(file, 'utf8'), /^\S+ INFO  after\n$/);
  fs.rmSync(dir, { recursive: true });
});

test('an unopenable log file fails at creation with a clear message', () => {
  assert.throws(() => createLogger({ file: '/nonexistent-dir/x/p.log' }), /cannot open log file \/nonexistent-dir\/x\/p\.log/);
});

test('write failures fall back to stderr, warning once, never throwing', () => {
  const dir = tmpdir();
  const file = path.join(dir, 'p.log');
  let err = '';
  const log = createLogger({ file, now, maxBytes: 10, stderr: (s) => void (err += s) });
  log.info('a'); // first line always fits
  // rotation needs file.1 renamed into place; a directory there makes it fail
  fs.mkdirSync(file + '.1');
  fs.writeFileSync(path.join(file + '.1', 'x'), '');
  log.info('b');
  log.info('c');
  log.close();
  const warnings = err.split('\n').filter((l) => l.startsWith('WARN: cannot write log file'));
  assert.is(warnings.length, 1);
  assert.match(err, /INFO  b\n/);
  assert.match(err, /INFO  c\n/);
  fs.rmSync(dir, { recursive: true });
});

test('rateLimited logs once per interval per key and counts the rest', () => {
  const lines: string[] = [];
  const log = createLogger({ now, write: (l) => lines.push(l.slice(25)) });
  let t = 1000;
  const limited = rateLimited(log, 60_000, () => t);
  limited('full', 'warn', 'table full');
  limited('full', 'warn', 'table full');
  limited('other', 'info', 'other event');
  limited('full', 'warn', 'table full');
  t += 60_000;
  limited('full', 'warn', 'table full');
  t += 60_000;
  limited('full', 'warn', 'table full');
  assert.equal(lines, [
    'WARN  table full',
    'INFO  other event',
    'WARN  table full (2 more suppressed)',
    'WARN  table full',
  ]);
});

test.run();
