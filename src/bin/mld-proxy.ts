// mld-proxy: keeps SLAAC "Single Network" IPv6 alive behind an MLD-snooping
// ISP gateway. The only file that reads argv, loads config and exits.
import { parseArgs, runMain } from '../lib/cli';
import { nativeVersion } from '../lib/native';
import { metricsFlagMessage, metricsFlags, METRICS_USAGE } from '../lib/metrics-config';
import { loadOrUsage, metricsCommand, statusCommand } from '../lib/proxy-cli';
import { serveDaemon } from '../lib/serve-daemon';
import { VERSION, versionLine } from '../lib/version';
import { DEFAULT_CONTROL_SOCKET, loadMldConfig, type MldProxyConfig } from '../mld-proxy/config';
import { createMldProxy, type MldProxyStatus } from '../mld-proxy/daemon';
import { mldProxyMetrics } from '../mld-proxy/metrics';
import { formatStatus } from '../mld-proxy/status-format';

const NAME = 'mld-proxy';

const USAGE = `Usage: ${NAME} [options] <upstream_if> <downstream_if>...
       ${NAME} status [--control-socket PATH] [--json]
       ${NAME} metrics [--control-socket PATH]

Joins each LAN host's solicited-node multicast group on the WAN interface, so
an MLD-snooping gateway keeps sending its Neighbor Solicitations to us and
ndppd can answer them. Example (UniFi "SLAAC + Single Network"):
  ${NAME} eth9 br0

Options:
  --timeout SECONDS         forget an address after this long without NDP (1800)
  --check-interval SECONDS  how often to expire addresses and retry joins (30)
  --prefix CIDR             only learn addresses in this prefix; repeatable
                            (default: the /64s of the upstream's addresses)
  --max-addresses N         bound on learned addresses (4096)
  --state FILE              keep learned addresses across restarts
${METRICS_USAGE}
  --firewall MODE           open the metrics port to --metrics-allow in UniFi's
                            firewall: auto (only where UniFi's chains are),
                            on, or off (auto)
  --config FILE             JSON config; flags override it; SIGHUP reloads it
  --log FILE                log here (size-capped at 1 MiB, one old file kept)
  --log-level LEVEL         debug, info, warn or error (info)
  --pid-file FILE           write the PID here; refuse to start twice
  --control-socket PATH     for 'status' (${DEFAULT_CONTROL_SOCKET})
  -h, --help                this help
  -v, --version             print the version
`;

const SPEC = {
  string: ['prefix', 'state', 'firewall', 'metrics-listen', 'metrics-allow', 'config', 'log', 'log-level', 'pid-file', 'control-socket'],
  boolean: ['help', 'version', 'json'],
  integer: ['timeout', 'check-interval', 'max-addresses'],
  repeatable: ['prefix', 'metrics-allow'],
  alias: { h: 'help', v: 'version' },
};

function flagsToConfig(args: ReturnType<typeof parseArgs>): Record<string, unknown> {
  const [upstream, ...downstream] = args._.map(String);
  return {
    upstream,
    downstream: downstream.length ? downstream : undefined,
    timeout: args.timeout,
    checkInterval: args['check-interval'],
    prefixes: args.prefix.length ? args.prefix : undefined,
    maxAddresses: args['max-addresses'],
    state: args.state,
    firewall: args.firewall,
    metrics: metricsFlags(args['metrics-listen'], args['metrics-allow']),
    log: args.log,
    logLevel: args['log-level'],
    pidFile: args['pid-file'],
    controlSocket: args['control-socket'],
  };
}

async function main(): Promise<number | void> {
  const args = parseArgs(process.argv.slice(2), SPEC);
  if (args.help) return void process.stdout.write(USAGE);
  if (args.version) return void process.stdout.write(versionLine(NAME, [`koffi ${nativeVersion()}`]));
  if (args._[0] === 'metrics') return metricsCommand(args, DEFAULT_CONTROL_SOCKET);
  if (args._[0] === 'status') return statusCommand<MldProxyStatus>(args, DEFAULT_CONTROL_SOCKET, (s) => formatStatus(s, Date.now()));
  const flags = flagsToConfig(args);
  const load = (): MldProxyConfig => loadOrUsage(() => loadMldConfig(args.config, flags), !!args.config, (err) => metricsFlagMessage(err) ?? err.message);
  const config = load();
  nativeVersion(); // fail now, not at the first interface, if the native layer cannot load
  await serveDaemon({
    name: NAME,
    config,
    load,
    starting: ({ proxy: p }) =>
      `${NAME} ${VERSION} starting: ${p.downstream.join(', ')} -> ${p.upstream}` + (p.prefixes.length ? ', prefixes given' : '') + `, timeout ${p.timeoutMs / 1000}s`,
    create: (c, log, warnOnce) => {
      const proxy = createMldProxy(c.proxy);
      proxy.on('joined', (group, address, upstream, seenOn) => log.info(`Joined: ${group} on ${upstream} (for ${address} seen on ${seenOn})`));
      proxy.on('left', (group, address, upstream, reason) => log.info(`Left: ${group} on ${upstream} (${address} ${reason})`));
      proxy.on('learned', (address, ifname, source) => log.debug(`learned ${address} on ${ifname} from ${source}`));
      proxy.on('refused', (address, max) =>
        warnOnce('refused', 'warn', `address table full (${max}): not learning ${address}; raise --max-addresses if this LAN really has that many hosts`),
      );
      proxy.on('info', (msg) => log.info(msg));
      proxy.on('warning', (key, msg) => warnOnce(key, 'warn', msg));
      return proxy;
    },
    start: (proxy) => proxy.start(),
    apply: (proxy, next) => proxy.reconfigure(next.proxy),
    metrics: mldProxyMetrics,
  });
}

void runMain(NAME, main);
