import type { Logger } from './log';

// The part of `process` a daemon's lifecycle touches, so tests can fake it.
export interface ProcessLike {
  on(event: string, listener: (...args: any[]) => void): unknown;
  removeListener(event: string, listener: (...args: any[]) => void): unknown;
  exit(code: number): void;
}

export interface DaemonOptions {
  log: Pick<Logger, 'info' | 'warn' | 'error'> & Partial<Pick<Logger, 'reopen'>>;
  stop: () => Promise<void> | void;
  reload?: () => Promise<void> | void;
  deadlineMs?: number;
  proc?: ProcessLike;
  // Starts a timer and returns its cancel function (injected by tests).
  setTimer?: (fn: () => void, ms: number) => () => void;
}

function realTimer(fn: () => void, ms: number): () => void {
  const t = setTimeout(fn, ms);
  t.unref(); // must not be what keeps a stopped daemon alive
  return () => clearTimeout(t);
}

// Wires signals and fatal errors to the daemon; resolves once stop() finished.
// Anything that would leave the process in an unknown state exits 1 so the
// supervisor (systemd, on_boot.d loop) starts a fresh copy.
export function runDaemon(opts: DaemonOptions): Promise<void> {
  const { log, stop, reload } = opts;
  const proc = opts.proc || process;
  const setTimer = opts.setTimer || realTimer;
  const deadlineMs = opts.deadlineMs ?? 5000;

  let stopping = false;
  let reloading = false;
  let reloadAgain = false;

  return new Promise((resolve) => {
    const onStop = (signal: string) => {
      if (stopping) {
        log.warn(`${signal} received again during shutdown, exiting now`);
        return proc.exit(1);
      }
      stopping = true;
      log.info(`${signal} received, stopping`);
      const cancel = setTimer(() => {
        log.error(`stop did not finish within ${deadlineMs} ms, exiting`);
        proc.exit(1);
      }, deadlineMs);
      Promise.resolve()
        .then(stop)
        .then(
          () => {
            cancel();
            uninstall();
            resolve();
          },
          (err) => {
            cancel();
            log.error(`stop failed: ${describe(err)}`);
            proc.exit(1);
          },
        );
    };

    const onHup = () => {
      if (stopping) return;
      // logrotate sends SIGHUP after moving the file away
      log.reopen?.();
      if (!reload) return;
      if (reloading) {
        reloadAgain = true; // the file may have changed after we read it
        return;
      }
      reloading = true;
      log.info('SIGHUP received, reloading');
      Promise.resolve()
        .then(reload)
        .catch((err) => log.error(`reload failed, keeping the running configuration: ${describe(err)}`))
        .then(() => {
          reloading = false;
          if (reloadAgain) {
            reloadAgain = false;
            onHup();
          }
        });
    };

    const fatal = (what: string) => (err: unknown) => {
      log.error(`${what}: ${err instanceof Error ? err.stack || err.message : String(err)}`);
      proc.exit(1);
    };

    const handlers: Record<string, (...args: any[]) => void> = {
      SIGTERM: () => onStop('SIGTERM'),
      SIGINT: () => onStop('SIGINT'),
      SIGHUP: onHup,
      uncaughtException: fatal('uncaught exception'),
      unhandledRejection: fatal('unhandled promise rejection'),
    };
    const uninstall = () => {
      for (const [event, fn] of Object.entries(handlers)) proc.removeListener(event, fn);
    };
    for (const [event, fn] of Object.entries(handlers)) proc.on(event, fn);
  });
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
