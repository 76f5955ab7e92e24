import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileAtomic } from '../../src/lib/atomic-file';

test('writes, replaces, sets the mode and leaves no temp file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'udm-atomic-'));
  const file = path.join(dir, 'state.json');
  writeFileAtomic(file, 'one');
  writeFileAtomic(file, Buffer.from('two'), 0o600);
  assert.is(fs.readFileSync(file, 'utf8'), 'two');
  assert.is(fs.statSync(file).mode & 0o777, 0o600);
  assert.equal(fs.readdirSync(dir), ['state.json']);
  fs.rmSync(dir, { recursive: true });
});

test('a failed write keeps the old file and removes the temp file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'udm-atomic-'));
  const file = path.join(dir, 'state');
  fs.mkdirSync(file); // rename onto a directory fails
  fs.writeFileSync(path.join(file, 'keep'), 'x');
  assert.throws(() => writeFileAtomic(file, 'new'));
  assert.ok(fs.statSync(file).isDirectory());
  assert.equal(fs.readdirSync(dir), ['state']);
  fs.rmSync(dir, { recursive: true });
});

test.run();
