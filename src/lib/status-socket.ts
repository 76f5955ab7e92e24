import fs from 'node:fs';
import net from 'node:net';
import type { Logger } from './log';

const MAX_CONNECTIONS = 8;
const TIMEOUT_MS = 2000;

export interface StatusServer {
  close(): void;
}

// Lets `<proxy> status` print the daemon's tables. The reply is one JSON line;
// the socket is root-only (0600) because tables name hosts on the network.
export async function serveStatus(
  path: string,
  snapshot: () => unknown,
  log: Pick<Logger, 'warn'>,
  /** The snapshot is text to send as it is (the metrics socket's exposition), not a value for JSON. */
  opts: { text?: boolean } = {},
): Promise<StatusServer> {
  await removeStaleSocket(path);

  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {}); // the client went away; nothing to do
    socket.setTimeout(TIMEOUT_MS, () => socket.destroy());
    let body: string;
    try {
      const v = snapshot();
      body = opts.text ? String(v) : JSON.stringify(v);
    } catch (err) {
      log.warn(`status snapshot failed: ${(err as Error).message}`);
      body = JSON.stringify({ error: (err as Error).message });
    }
    // Two writes: body + '\n' would copy a table of thousands of entries once more.
    socket.write(body);
    socket.end('\n');
  });
  // Beyond this Node closes new connections at once: a stuck client loop must
  // not cost the daemon memory.
  server.maxConnections = MAX_CONNECTIONS;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.removeListener('error', reject);
      resolve();
    });
  }).catch((err) => {
    throw new Error(`cannot listen on control socket ${path}: ${err.message}`);
  });
  server.on('error', (err) => log.warn(`control socket ${path}: ${err.message}`));
  fs.chmodSync(path, 0o600);

  let closed = false;
  return {
    close() {
      if (closed) return;
      closed = true;
      server.close();
      for (const s of sockets) s.destroy();
      fs.rmSync(path, { force: true });
    },
  };
}

// A socket file left by a crash blocks listen() with EADDRINUSE; remove it,
// but only after making sure no running daemon answers on it.
async function removeStaleSocket(path: string): Promise<void> {
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(path);
  } catch {
    return;
  }
  if (!stat.isSocket()) throw new Error(`${path} exists and is not a socket; refusing to replace it`);
  if (await answers(path)) {
    throw new Error(`another daemon is already serving on ${path}; stop it first`);
  }
  fs.rmSync(path, { force: true });
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(path);
    socket.on('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

export async function requestStatus(path: string, timeoutMs = TIMEOUT_MS): Promise<unknown> {
  const text = await requestText(path, timeoutMs);
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`invalid status reply from ${path}: ${JSON.stringify(text.slice(0, 80))}`);
  }
}

/** The socket's whole reply as text. */
export function requestText(path: string, timeoutMs = TIMEOUT_MS): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(path);
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new Error(`no answer on ${path} within ${timeoutMs} ms`));
    });
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
        reject(new Error(`no running daemon answers on ${path} (is it started? see --control-socket)`));
      } else if (err.code === 'EACCES') {
        reject(new Error(`permission denied on ${path} (run as root)`));
      } else {
        reject(new Error(`cannot read status from ${path}: ${err.message}`));
      }
    });
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}
