// What every proxy does once its configuration is valid: log, PID file,
// status socket, start, then signals (SIGHUP reloads, SIGTERM stops) until
// it is stopped. Each bin supplies only how to make, start and reconfigure
// its proxy. Every daemon also gives memory back after a burst (memory.ts),
// and serves Prometheus metrics when its config says where (metrics-server.ts).
import { Firewall, type FirewallMode } from './firewall';
import type { Opening } from './firewall-rules';
import { runDaemon } from './lifecycle';
import { dropExecutablePages } from './exe-pages';
import { createLogger, rateLimited, type Level, type Logger, type RateLimitedLog } from './log';
import { collectGarbage, MemoryReleaser, trimMalloc } from './memory';
import { counter, gauge, info, render, snake, type MetricFamily } from './metrics';
import { hostPort, metricsServerMetrics, serveMetrics, type MetricsServer } from './metrics-server';
import { isWildcard, metricsSocketPath, type MetricsSettings } from './metrics-config';
import { acquirePidFile } from './pidfile';
import { processMetrics } from './process-metrics';
import { serveStatus, type StatusServer } from './status-socket';
import { formatCidr } from './ip';
import { COMMIT, VERSION } from './version';

export interface DaemonSettings {
  log?: string;
  logLevel: Level;
  pidFile?: string;
  controlSocket: string;
  /** The proxies that listen for peers have it (lib/firewall.ts); default auto. */
  firewall?: FirewallMode;
  /** Where to serve /metrics (metrics-config.ts); undefined: off. */
  metrics?: MetricsSettings;
}

export interface RunningProxy {
  status(): object;
  close(): void;
  /** Gives back buffers that are idle between bursts (receive slots): called after a burst. */
  releaseBuffers?(): void;
}

/** How often the metrics endpoint tries again to listen (its address not there yet, at boot). */
const METRICS_RETRY_MS = 5000;

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
  /** The proxy's own metric families, from the counters its status shows; made at each scrape. */
  metrics?: (proxy: P) => MetricFamily[];
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
  // The metrics port is a TCP opening, from the allow list only; it stays what the start said (a reload warns).
  const metricsOpening: Opening[] = config.metrics ? [metricsOpeningOf(config.metrics)] : [];
  const firewall =
    openings || config.metrics
      ? new Firewall({ proxy: opts.name, mode: config.firewall ?? 'auto', openings: () => (openings ? [...openings(proxy, config), ...metricsOpening] : metricsOpening), log })
      : undefined;
  let statusServer: StatusServer | undefined;
  let metricsSocket: StatusServer | undefined;
  let metricsServer: MetricsServer | undefined;
  const prefix = snake(opts.name);
  const families = (): MetricFamily[] => [
    info(`${prefix}_build_info`, `The ${opts.name} executable: version, commit and Node.`, { version: VERSION, commit: COMMIT, node: process.versions.node }),
    ...(opts.metrics?.(proxy) ?? []),
    ...processMetrics('udm_proxies'),
    ...memoryMetrics(memory.status()),
    ...firewallMetrics(firewall?.status()),
    ...(metricsServer ? metricsServerMetrics(metricsServer.counters) : []),
  ];
  // The endpoint's address may not be up yet (a LAN bridge at boot): the proxy starts
  // anyway, and the endpoint follows when it can listen; one warning, one info line.
  let metricsRetry: NodeJS.Timeout | undefined;
  let stopped = false;
  const startMetrics = async (m: MetricsSettings, warned: boolean): Promise<void> => {
    try {
      const server = await serveMetrics({ settings: m, render: (om) => render(families(), om) });
      if (stopped) return server.close();
      metricsServer = server;
      log.info(`metrics: http://${hostPort(m)}/metrics` + (m.allow.length ? ` for ${m.allow.map(formatCidr).join(', ')}` : ' for anyone who reaches it'));
    } catch (err) {
      if (stopped) return;
      if (!warned) log.warn(`${(err as Error).message}; trying again every ${METRICS_RETRY_MS / 1000} s`);
      metricsRetry = setTimeout(() => void startMetrics(m, true), METRICS_RETRY_MS);
    }
  };
  try {
    statusServer = await serveStatus(config.controlSocket, () => ({ ...proxy.status(), memory: memory.status(), firewall: firewall?.status() }), log);
    metricsSocket = await serveStatus(metricsSocketPath(config.controlSocket), () => render(families(), false), log, { text: true });
    if (config.metrics) await startMetrics(config.metrics, false);
    await opts.start(proxy);
    // Not awaited: a firewall that is slow to answer must not hold the start.
    void firewall?.start();
  } catch (err) {
    // A half-started daemon must not keep the socket or the PID file.
    await firewall?.close();
    proxy.close();
    stopped = true;
    clearTimeout(metricsRetry);
    metricsServer?.close();
    metricsSocket?.close();
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
      if (
        next.controlSocket !== config.controlSocket ||
        next.pidFile !== config.pidFile ||
        next.log !== config.log ||
        next.firewall !== config.firewall ||
        metricsKey(next.metrics) !== metricsKey(config.metrics)
      ) {
        log.warn('reload: log, pidFile, controlSocket, firewall and metrics changes take effect at the next start');
      }
      log.setLevel(next.logLevel);
      await opts.apply(proxy, next);
      config = next;
      log.info('configuration reloaded');
      void firewall?.refresh();
    },
    stop: async () => {
      clearInterval(memoryTimer);
      await firewall?.close();
      proxy.close();
      stopped = true;
      clearTimeout(metricsRetry);
      metricsServer?.close();
      metricsSocket?.close();
      statusServer!.close();
      releasePid();
      log.info('stopped');
      log.close();
    },
  });
}

const mb = (bytes: number) => (bytes / 1048576).toFixed(1);

const metricsKey = (m: MetricsSettings | undefined) => (m ? `${hostPort(m)} ${m.allow.map(formatCidr).join(' ')}` : '');

function metricsOpeningOf(m: MetricsSettings): Opening {
  return { what: 'metrics', protocol: 'tcp', port: m.port, from: m.allow.map(formatCidr), to: isWildcard(m) ? undefined : m.address };
}

function memoryMetrics(m: { releases: number; releasedBytes: number; unmappedBytes: number }): MetricFamily[] {
  return [
    counter('udm_proxies_memory_releases_total', 'Times memory was given back after a burst (GC, malloc_trim).', m.releases),
    counter('udm_proxies_memory_released_bytes_total', 'Anonymous memory given back by those releases, in bytes.', m.releasedBytes),
    gauge('udm_proxies_memory_unmapped_bytes', "The executable's start-up pages unmapped once the daemon settled, in bytes.", m.unmappedBytes),
  ];
}

function firewallMetrics(f: { ipv4: { active: boolean }; ipv6: { active: boolean }; putBack: number } | undefined): MetricFamily[] {
  if (!f) return [];
  return [
    gauge('udm_proxies_firewall_active', "1 while the proxy's chain is in place in UniFi's firewall, by IP family.", [
      { labels: { family: 'ipv4' }, value: f.ipv4.active ? 1 : 0 },
      { labels: { family: 'ipv6' }, value: f.ipv6.active ? 1 : 0 },
    ]),
    counter('udm_proxies_firewall_put_back_total', "Times the proxy's firewall rules were put back after somebody else removed them.", f.putBack),
  ];
}
