import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { acquirePidFile, readProcCmdline } from '../../src/lib/pidfile';

function setup() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'udm-pid-'));
  return { dir, file: path.join(dir, 'mld-proxy.pid'), done: () => fs.rmSync(dir, { recursive: true }) };
}

// A fake /proc: pid -> command line; absent pids are dead.
const fakeProc = (procs: Record<number, string>) => (pid: number) => procs[pid] ?? null;

test('writes our pid and release removes it', () => {
  const { dir, file, done } = setup();
  const release = acquirePidFile(file, 'mld-proxy', { pid: 100, readCmdline: fakeProc({}) });
  assert.is(fs.readFileSync(file, 'utf8'), '100\n');
  assert.equal(fs.readdirSync(dir), ['mld-proxy.pid']);
  release();
  assert.not.ok(fs.existsSync(file));
  release(); // safe twice
  done();
});

test('refuses when a live process with our name holds it', () => {
  const { file, done } = setup();
  fs.writeFileSync(file, '42\n');
  const readCmdline = fakeProc({ 42: '/data/udm-proxies/bin/mld-proxy --config /data/udm-proxies/mld.json' });
  assert.throws(
    () => acquirePidFile(file, 'mld-proxy', { pid: 100, readCmdline }),
    (err: Error) => err.message === `mld-proxy is already running as PID 42 (pid file ${file}); stop it first`,
  );
  assert.is(fs.readFileSync(file, 'utf8'), '42\n');
  done();
});

test('replaces a stale pid (process dead)', () => {
  const { file, done } = setup();
  fs.writeFileSync(file, '42\n');
  acquirePidFile(file, 'mld-proxy', { pid: 100, readCmdline: fakeProc({}) });
  assert.is(fs.readFileSync(file, 'utf8'), '100\n');
  done();
});

test('replaces a reused pid (live process with another name)', () => {
  const { file, done } = setup();
  fs.writeFileSync(file, '42\n');
  acquirePidFile(file, 'mld-proxy', { pid: 100, readCmdline: fakeProc({ 42: '/usr/sbin/dnsmasq -k' }) });
  assert.is(fs.readFileSync(file, 'utf8'), '100\n');
  done();
});

test('replaces garbage and a file naming ourselves', () => {
  const { file, done } = setup();
  fs.writeFileSync(file, 'not a pid');
  acquirePidFile(file, 'mld-proxy', { pid: 100, readCmdline: fakeProc({}) });
  assert.is(fs.readFileSync(file, 'utf8'), '100\n');
  acquirePidFile(file, 'mld-proxy', { pid: 100, readCmdline: fakeProc({ 100: 'mld-proxy' }) });
  assert.is(fs.readFileSync(file, 'utf8'), '100\n');
  done();
});

test('release leaves a file that another instance took over', () => {
  const { file, done } = setup();
  const release = acquirePidFile(file, 'mld-proxy', { pid: 100, readCmdline: fakeProc({}) });
  fs.writeFileSync(file, '200\n');
  release();
  assert.is(fs.readFileSync(file, 'utf8'), '200\n');
  done();
});

test('readProcCmdline reads our own /proc entry and null for a dead pid', () => {
  assert.ok(readProcCmdline(process.pid)!.includes('node'));
  assert.is(readProcCmdline(2 ** 30), null);
});

test.run();
