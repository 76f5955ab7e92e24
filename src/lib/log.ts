import fs from 'node:fs';
import { monotonicMs } from './clock';

export type Level = 'debug' | 'info' | 'warn' | 'error';

const LEVELS: Level[] = ['debug', 'info', 'warn', 'error'];

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  setLevel(level: Level): void;
  // Reopen the file after logrotate moved it away (SIGHUP).
  reopen(): void;
  close(): void;
}

export interface LoggerOptions {
  file?: string;
  level?: Level;
  maxBytes?: number;
  keep?: number;
  now?: () => Date;
  // Where lines go without a file (default: stdout); one line, no newline.
  write?: (line: string) => void;
  // Fallback when the file cannot be written (default: process.stderr).
  stderr?: (s: string) => void;
}

export function parseLevel(s: string): Level {
  if ((LEVELS as string[]).includes(s)) return s as Level;
  throw new Error(`invalid log level "${s}" (valid levels: ${LEVELS.join(', ')})`);
}

export function formatLine(time: Date, level: Level, msg: string): string {
  return `${time.toISOString()} ${level.toUpperCase().padEnd(5)} ${msg}`;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const now = opts.now || (() => new Date());
  const stderr = opts.stderr || ((s: string) => void process.stderr.write(s));
  let threshold = LEVELS.indexOf(opts.level || 'info');

  const sink = opts.file
    ? fileSink(opts.file, opts.maxBytes ?? 1024 * 1024, opts.keep ?? 1, stderr)
    : streamSink(opts.write || ((line) => void process.stdout.write(line + '\n')));

  const at = (level: Level) => (msg: string) => {
    if (LEVELS.indexOf(level) >= threshold) sink.write(formatLine(now(), level, msg));
  };

  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    setLevel(level) {
      threshold = LEVELS.indexOf(parseLevel(level));
    },
    reopen: () => sink.reopen(),
    close: () => sink.close(),
  };
}

interface Sink {
  write(line: string): void;
  reopen(): void;
  close(): void;
}

function streamSink(write: (line: string) => void): Sink {
  return { write, reopen() {}, close() {} };
}

// Synchronous appends: lines are rare (one per event a human cares about) and
// a line written just before a crash must reach the disk.
function fileSink(file: string, maxBytes: number, keep: number, stderr: (s: string) => void): Sink {
  let fd: number | null = null;
  let size = 0;
  let closed = false;
  let failing = false;

  const open = () => {
    fd = fs.openSync(file, 'a', 0o644);
    size = fs.fstatSync(fd).size;
  };
  const shut = () => {
    if (fd === null) return;
    const old = fd;
    fd = null;
    fs.closeSync(old);
  };
  const rotate = () => {
    shut();
    for (let i = keep - 1; i >= 1; i--) renameIfExists(`${file}.${i}`, `${file}.${i + 1}`);
    if (keep > 0) renameIfExists(file, `${file}.1`);
    else fs.rmSync(file, { force: true });
    open();
  };

  // Fail at startup with a clear message instead of silently logging elsewhere.
  try {
    open();
  } catch (err) {
    throw new Error(`cannot open log file ${file}: ${(err as Error).message}`);
  }

  return {
    write(line) {
      const buf = Buffer.from(line + '\n');
      if (closed) return stderr(buf.toString());
      try {
        if (fd === null) open();
        if (size > 0 && size + buf.length > maxBytes) rotate();
        fs.writeSync(fd!, buf);
        size += buf.length;
        failing = false;
      } catch (err) {
        // Never throw into the daemon: a full disk must not stop the proxy.
        // Warn once per run of failures; the next line retries the file.
        if (!failing) stderr(`WARN: cannot write log file ${file} (${(err as Error).message}); logging to stderr\n`);
        failing = true;
        try {
          shut();
        } catch {}
        stderr(buf.toString());
      }
    },
    reopen() {
      if (closed) return;
      try {
        shut();
      } catch {}
      try {
        open();
      } catch {} // write() retries and reports
    },
    close() {
      closed = true;
      try {
        shut();
      } catch {}
    },
  };
}

function renameIfExists(from: string, to: string) {
  try {
    fs.renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

export type RateLimitedLog = (key: string, level: Level, msg: string) => void;

// For warnings that can repeat per packet ("table full"): at most one line per
// key per interval, and the next line says how many were dropped meanwhile. The
// interval is monotonic: on the wall clock, a step back by an hour would silence
// every warning for that hour.
export function rateLimited(logger: Logger, intervalMs: number, now: () => number = monotonicMs): RateLimitedLog {
  const seen = new Map<string, { last: number; suppressed: number }>();
  return (key, level, msg) => {
    const t = now();
    const entry = seen.get(key);
    if (entry && t - entry.last < intervalMs) {
      entry.suppressed++;
      return;
    }
    const suffix = entry && entry.suppressed ? ` (${entry.suppressed} more suppressed)` : '';
    // Keys are meant to be a few fixed strings; this only guards against misuse.
    if (!entry && seen.size >= 1000) seen.clear();
    seen.set(key, { last: t, suppressed: 0 });
    logger[level](msg + suffix);
  };
}

/** The events through which a daemon tells the log what happens (udp-proxy, udp-tunnel, ssdp-proxy). */
export interface DaemonLogEvents {
  info: (message: string) => void;
  debug: (message: string) => void;
  /** Something failed; the daemon goes on. The key rate-limits repeats of the same trouble. */
  warning: (key: string, message: string) => void;
}

/** Writes a daemon's info, debug and warning events to the log; warnings at most once a minute per key. */
export function logDaemonEvents(
  daemon: { on<E extends keyof DaemonLogEvents>(event: E, listener: DaemonLogEvents[E]): unknown },
  log: Logger,
  warnOnce: RateLimitedLog,
): void {
  daemon.on('info', (msg) => log.info(msg));
  daemon.on('debug', (msg) => log.debug(msg));
  daemon.on('warning', (key, msg) => warnOnce(key, 'warn', msg));
}
