// What every proxy does once its configuration is valid: log, PID file,
// status socket, start, then signals (SIGHUP reloads, SIGTERM stops) until
// it is stopped. Each bin supplies only how to make, start and reconfigure
// its proxy. Every daemon also gives memory back after a burst (memory.ts).
import { Firewall, type FirewallMode } from './firewall';
import type { Opening } from './firewall-rules';
import { runDaemon } from './lifecycle';
import { dropExecutablePages } from './exe-pages';
import { createLogger, rateLimited, type Level, type Logger, type RateLimitedLog } from './log';
import { collectGarbage, MemoryReleaser, trimMalloc } from './memory';
import { acquirePidFile } from './pidfile';
import { serveStatus, type StatusServer } from './status-socket';

export interface DaemonSettings {
  log?: string;
  logLevel: Level;
  pidFile?: string;
  controlSocket: string;
  /** The proxies that listen for peers have it (lib/firewall.ts); default auto. */
  firewall?: FirewallMode;
}

export interface RunningProxy {
  status(): object;
  close(): void;
  /** Gives back buffers that are idle between bursts (receive slots): called after a burst. */
  releaseBuffers?(): void;
}

/** How often the memory releaser looks at RssAnon (lib/memory.ts). */
const MEMORY_CHECK_MS = 1000;

export interface ServeDaemonOptions<C extends DaemonSettings, P extends RunningProxy> {
  name: string;
  config: C;
  /** Reads the configuration again (SIGHUP); throws when it is bad. */
  load: () => C;
  /** The first log line. */
  starting: (config: C) => string;
  /** Makes the proxy and wires its events to the log; does not start it. */
  create: (config: C, log: Logger, warnOnce: RateLimitedLog) => P;
  start: (proxy: P) => void | Promise<void>;
  apply: (proxy: P, next: C) => void | Promise<void>;
  /** The ports the proxy listens on and who may reach them, kept open in UniFi's firewall. */
  openings?: (proxy: P, config: C) => Opening[];
}

export async function serveDaemon<C extends DaemonSettings, P extends RunningProxy>(opts: ServeDaemonOptions<C, P>): Promise<void> {
  let config = opts.config;
  const log = createLogger({ file: config.log, level: config.logLevel });
  const releasePid = config.pidFile ? acquirePidFile(config.pidFile, opts.name) : () => {};
  log.info(opts.starting(config));
  const warnOnce = rateLimited(log, 60_000);
  const proxy = opts.create(config, log, warnOnce);
  const memory = new MemoryReleaser({
    release: () => {
      proxy.releaseBuffers?.();
      collectGarbage();
      try {
        trimMalloc();
      } catch (err) {
        warnOnce('malloc_trim', 'warn', `memory: cannot trim malloc's arenas: ${(err as Error).message}`);
      }
    },
    settle: () => {
      try {
        const d = dropExecutablePages();
        return d.before > d.after ? d.before - d.after : 0;
      } catch (err) {
        warnOnce('madvise', 'warn', `memory: cannot unmap the executable's start-up pages: ${(err as Error).message}`);
        return 0;
      }
    },
  });

  const openings = opts.openings;
  const firewall = openings
    ? new Firewall({ proxy: opts.name, mode: config.firewall ?? 'auto', openings: () => openings(proxy, config), log })
    : undefined;
  let statusServer: StatusServer | undefined;
  try {
    statusServer = await serveStatus(config.controlSocket, () => ({ ...proxy.status(), memory: memory.status(), firewall: firewall?.status() }), log);
    await opts.start(proxy);
    // Not awaited: a firewall that is slow to answer must not hold the start.
    void firewall?.start();
  } catch (err) {
    // A half-started daemon must not keep the socket or the PID file.
    firewall?.close();
    proxy.close();
    statusServer?.close();
    releasePid();
    throw err;
  }

  const memoryTimer = setInterval(() => {
    const r = memory.check();
    if (r?.settled) log.debug(`memory: settled after the start, RssAnon ${mb(r.before)} -> ${mb(r.after)} MB, ${mb(r.settled.unmapped)} MB of the executable's start-up pages unmapped`);
    else if (r) log.debug(`memory: after a burst, RssAnon ${mb(r.before)} -> ${mb(r.after)} MB (${r.ms.toFixed(0)} ms)`);
  }, MEMORY_CHECK_MS);
  memoryTimer.unref();

  await runDaemon({
    log,
    reload: async () => {
      const next = opts.load(); // throws: runDaemon logs it and the running config stays
      if (next.controlSocket !== config.controlSocket || next.pidFile !== config.pidFile || next.log !== config.log || next.firewall !== config.firewall) {
        log.warn('reload: log, pidFile, controlSocket and firewall changes take effect at the next start');
      }
      log.setLevel(next.logLevel);
      await opts.apply(proxy, next);
      config = next;
      log.info('configuration reloaded');
      void firewall?.refresh();
    },
    stop: () => {
      clearInterval(memoryTimer);
      firewall?.close();
      proxy.close();
      statusServer!.close();
      releasePid();
      log.info('stopped');
      log.close();
    },
  });
}

const mb = (bytes: number) => (bytes / 1048576).toFixed(1);
