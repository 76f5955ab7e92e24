import { EventEmitter } from 'node:events';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runDaemon } from '../../src/lib/lifecycle';

function fakes() {
  const proc = Object.assign(new EventEmitter(), { exits: [] as number[], exit(code: number) { this.exits.push(code); } });
  const lines: string[] = [];
  let reopened = 0;
  const log = {
    info: (m: string) => lines.push(`INFO ${m}`),
    warn: (m: string) => lines.push(`WARN ${m}`),
    error: (m: string) => lines.push(`ERROR ${m}`),
    reopen: () => void reopened++,
  };
  const timers: { fn: () => void; ms: number; cancelled: boolean }[] = [];
  const setTimer = (fn: () => void, ms: number) => {
    const t = { fn, ms, cancelled: false };
    timers.push(t);
    return () => void (t.cancelled = true);
  };
  return { proc, lines, log, timers, setTimer, reopened: () => reopened };
}

const tick = () => new Promise((r) => setImmediate(r));

function deferred() {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((a, b) => ((resolve = a), (reject = b)));
  return { promise, resolve, reject };
}

test('SIGTERM stops gracefully, resolves and removes its handlers', async () => {
  const f = fakes();
  let stopped = 0;
  const done = runDaemon({ log: f.log, stop: () => void stopped++, proc: f.proc, setTimer: f.setTimer });
  assert.is(f.proc.listenerCount('SIGTERM'), 1);
  f.proc.emit('SIGTERM');
  await done;
  assert.is(stopped, 1);
  assert.equal(f.proc.exits, []);
  assert.is(f.timers[0].ms, 5000);
  assert.ok(f.timers[0].cancelled);
  for (const e of ['SIGTERM', 'SIGINT', 'SIGHUP', 'uncaughtException', 'unhandledRejection']) {
    assert.is(f.proc.listenerCount(e), 0, e);
  }
  assert.equal(f.lines, ['INFO SIGTERM received, stopping']);
});

test('stop past the deadline logs and exits 1', async () => {
  const f = fakes();
  const never = deferred();
  runDaemon({ log: f.log, stop: () => never.promise, proc: f.proc, setTimer: f.setTimer, deadlineMs: 1234 });
  f.proc.emit('SIGINT');
  await tick();
  assert.equal(f.proc.exits, []);
  f.timers[0].fn();
  assert.equal(f.proc.exits, [1]);
  assert.ok(f.lines.includes('ERROR stop did not finish within 1234 ms, exiting'));
});

test('a second SIGTERM during stop forces exit', async () => {
  const f = fakes();
  const slow = deferred();
  runDaemon({ log: f.log, stop: () => slow.promise, proc: f.proc, setTimer: f.setTimer });
  f.proc.emit('SIGTERM');
  f.proc.emit('SIGTERM');
  assert.equal(f.proc.exits, [1]);
  assert.ok(f.lines.includes('WARN SIGTERM received again during shutdown, exiting now'));
});

test('a failing stop exits 1', async () => {
  const f = fakes();
  runDaemon({ log: f.log, stop: () => { throw new Error('socket busy'); }, proc: f.proc, setTimer: f.setTimer });
  f.proc.emit('SIGTERM');
  await tick();
  assert.equal(f.proc.exits, [1]);
  assert.ok(f.lines.includes('ERROR stop failed: socket busy'));
});

test('SIGHUP reopens the log and reloads; a failed reload keeps running', async () => {
  const f = fakes();
  let reloads = 0;
  const reload = () => {
    reloads++;
    if (reloads === 2) throw new Error('config.json: invalid JSON');
  };
  runDaemon({ log: f.log, stop: () => {}, reload, proc: f.proc, setTimer: f.setTimer });
  f.proc.emit('SIGHUP');
  await tick();
  f.proc.emit('SIGHUP');
  await tick();
  assert.is(reloads, 2);
  assert.is(f.reopened(), 2);
  assert.ok(f.lines.includes('ERROR reload failed, keeping the running configuration: config.json: invalid JSON'));
  assert.equal(f.proc.exits, []);
  assert.is(f.proc.listenerCount('SIGTERM'), 1);
});

test('SIGHUPs during a reload coalesce into one more reload', async () => {
  const f = fakes();
  const gates = [deferred(), deferred()];
  let reloads = 0;
  runDaemon({ log: f.log, stop: () => {}, reload: () => gates[reloads++].promise, proc: f.proc, setTimer: f.setTimer });
  f.proc.emit('SIGHUP');
  f.proc.emit('SIGHUP');
  f.proc.emit('SIGHUP');
  await tick();
  assert.is(reloads, 1);
  gates[0].resolve();
  await tick();
  assert.is(reloads, 2);
  gates[1].resolve();
  await tick();
  assert.is(reloads, 2);
});

test('uncaught exceptions and unhandled rejections log the stack and exit 1', () => {
  const f = fakes();
  runDaemon({ log: f.log, stop: () => {}, proc: f.proc, setTimer: f.setTimer });
  const err = new Error('boom');
  f.proc.emit('uncaughtException', err);
  f.proc.emit('unhandledRejection', 'plain reason');
  assert.equal(f.proc.exits, [1, 1]);
  assert.ok(f.lines[0].startsWith('ERROR uncaught exception: Error: boom\n    at '));
  assert.is(f.lines[1], 'ERROR unhandled promise rejection: plain reason');
});

test.run();
