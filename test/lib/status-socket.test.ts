import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { requestStatus, serveStatus } from '../../src/lib/status-socket';

const quiet = { warn: (_: string) => {} };

function tmp() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'udm-st-'));
  return { sock: path.join(dir, 'status.sock'), done: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

test('serves a JSON snapshot per connection, socket mode 0600', async () => {
  const { sock, done } = tmp();
  let n = 0;
  const server = await serveStatus(sock, () => ({ groups: ['ff02::fb'], n: ++n }), quiet);
  assert.is(fs.statSync(sock).mode & 0o777, 0o600);
  assert.equal(await requestStatus(sock), { groups: ['ff02::fb'], n: 1 });
  assert.equal(await requestStatus(sock), { groups: ['ff02::fb'], n: 2 });
  server.close();
  server.close();
  assert.not.ok(fs.existsSync(sock));
  done();
});

test('a throwing snapshot answers with an error object and warns', async () => {
  const { sock, done } = tmp();
  const warnings: string[] = [];
  const server = await serveStatus(sock, () => { throw new Error('not ready'); }, { warn: (m) => warnings.push(m) });
  assert.equal(await requestStatus(sock), { error: 'not ready' });
  assert.equal(warnings, ['status snapshot failed: not ready']);
  server.close();
  done();
});

test('client error when nobody listens', async () => {
  const { sock, done } = tmp();
  try {
    await requestStatus(sock);
    assert.unreachable('should have thrown');
  } catch (err) {
    assert.is((err as Error).message, `no running daemon answers on ${sock} (is it started? see --control-socket)`);
  }
  done();
});

test('replaces a stale socket file left by a crash', async () => {
  const { sock, done } = tmp();
  const dead = net.createServer();
  await new Promise<void>((r) => dead.listen(sock, r));
  // Closing a listener removes its file; a copy keeps one without a listener.
  fs.renameSync(sock, sock + '.x');
  await new Promise<void>((r) => dead.close(() => r()));
  fs.renameSync(sock + '.x', sock);
  assert.ok(fs.lstatSync(sock).isSocket());
  const server = await serveStatus(sock, () => 'fresh', quiet);
  assert.is(await requestStatus(sock), 'fresh');
  server.close();
  done();
});

test('refuses when another daemon answers on the socket', async () => {
  const { sock, done } = tmp();
  const first = await serveStatus(sock, () => 'first', quiet);
  try {
    await serveStatus(sock, () => 'second', quiet);
    assert.unreachable('should have thrown');
  } catch (err) {
    assert.is((err as Error).message, `another daemon is already serving on ${sock}; stop it first`);
  }
  assert.is(await requestStatus(sock), 'first');
  first.close();
  done();
});

test('refuses to replace a file that is not a socket', async () => {
  const { sock, done } = tmp();
  fs.writeFileSync(sock, 'precious');
  try {
    await serveStatus(sock, () => 1, quiet);
    assert.unreachable('should have thrown');
  } catch (err) {
    assert.is((err as Error).message, `${sock} exists and is not a socket; refusing to replace it`);
  }
  assert.is(fs.readFileSync(sock, 'utf8'), 'precious');
  done();
});

test('invalid reply is reported', async () => {
  const { sock, done } = tmp();
  const raw = net.createServer((s) => s.end('nope'));
  await new Promise<void>((r) => raw.listen(sock, r));
  try {
    await requestStatus(sock);
    assert.unreachable('should have thrown');
  } catch (err) {
    assert.is((err as Error).message, `invalid status reply from ${sock}: "nope"`);
  }
  await new Promise<void>((r) => raw.close(() => r()));
  done();
});

test.run();
