// udp-proxy: forwards UDP to a service and accepts its replies also from alias
// addresses (a service behind a VIP that answers from its real address). The
// only file that reads argv, loads config and exits.
import { parseArgs, runMain, UsageError } from '../lib/cli';
import type { ConfigError } from '../lib/config';
import { formatCidr } from '../lib/ip';
import { logDaemonEvents } from '../lib/log';
import { nativeVersion } from '../lib/native';
import { serveDaemon } from '../lib/serve-daemon';
import { flagErrors, loadOrUsage, metricsCommand, statusCommand } from '../lib/proxy-cli';
import { metricsFlagMessage, metricsFlags, METRICS_USAGE } from '../lib/metrics-config';
import { VERSION, versionLine } from '../lib/version';
import { DEFAULT_CONTROL_SOCKET, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_SESSIONS, DEFAULT_MAX_SESSIONS_PER_CLIENT, loadUdpProxyConfig, type UdpProxyConfig } from '../udp-proxy/config';
import { createUdpProxy, type UdpProxyStatus } from '../udp-proxy/daemon';
import { udpProxyMetrics } from '../udp-proxy/metrics';
import { formatStatus } from '../udp-proxy/status-format';

const NAME = 'udp-proxy';

const USAGE = `Usage: ${NAME} --listen [ADDR:]PORT --upstream HOST:PORT [--reply-alias HOST[:PORT]]... [options]
       ${NAME} --config FILE [options]
       ${NAME} status [--control-socket PATH] [--json]
       ${NAME} metrics [--control-socket PATH]

Forwards UDP datagrams to the upstream, one upstream socket per client, and
passes back replies that come from the upstream or from a reply alias (a
service behind a VIP that answers from its real address). Example:
  ${NAME} --listen 51820 --upstream 10.0.0.254:51820 \\
      --reply-alias 10.0.0.252:51820 --reply-alias 10.0.0.253:51820

Rule options (one rule; several rules go in --config):
  --listen [ADDR:]PORT      where clients send to (every address if no ADDR)
  --upstream HOST:PORT      the service (an IP address; [IPv6]:PORT)
  --reply-alias HOST[:PORT] replies from here are accepted too; no port: any
                            port of that address; repeatable
  --idle-timeout SECONDS    close a session after this long unused (${DEFAULT_IDLE_TIMEOUT})
  --max-sessions N          past it the least recently used session closes (${DEFAULT_MAX_SESSIONS})
  --max-sessions-per-client N  past it a client's own least recently used
                            session closes, so one host cannot evict the
                            others' (${DEFAULT_MAX_SESSIONS_PER_CLIENT})
  --allow CIDR              only clients in this prefix; repeatable (default: all)
Options:
  --config FILE             JSON config with a "proxy" list of rules; SIGHUP
                            reloads it (unchanged rules keep their sessions)
  --firewall MODE           open the ports this proxy listens on in UniFi's
                            firewall: auto (only where UniFi's chains are),
                            on, or off (auto)
${METRICS_USAGE}
  --no-offload              one datagram per system call instead of batches
                            (recvmmsg/sendmmsg): for a kernel that misbehaves
  --log FILE                log here (size-capped at 1 MiB, one old file kept)
  --log-level LEVEL         debug, info, warn or error (info)
  --pid-file FILE           write the PID here; refuse to start twice
  --control-socket PATH     for 'status' (${DEFAULT_CONTROL_SOCKET})
  -h, --help                this help
  -v, --version             print the version
`;

const RULE_FLAGS = ['listen', 'upstream', 'reply-alias', 'idle-timeout', 'max-sessions', 'max-sessions-per-client', 'allow'] as const;

const SPEC = {
  string: ['listen', 'upstream', 'reply-alias', 'allow', 'config', 'firewall', 'metrics-listen', 'metrics-allow', 'log', 'log-level', 'pid-file', 'control-socket'],
  boolean: ['help', 'version', 'json', 'offload'],
  integer: ['idle-timeout', 'max-sessions', 'max-sessions-per-client'],
  repeatable: ['reply-alias', 'allow', 'metrics-allow'],
  alias: { h: 'help', v: 'version' },
};

type Args = ReturnType<typeof parseArgs>;

const given = (args: Args, k: string) => (Array.isArray(args[k]) ? args[k].length > 0 : args[k] !== undefined);

function flagsToConfig(args: Args): Record<string, unknown> {
  const hasRule = RULE_FLAGS.some((k) => given(args, k));
  if (hasRule && args.config) {
    throw new UsageError(`--${RULE_FLAGS.find((k) => given(args, k))} and --config: give one rule with flags, or rules in the config file`);
  }
  let proxy: unknown;
  if (hasRule) {
    if (!args.listen) throw new UsageError('--listen is missing');
    if (!args.upstream) throw new UsageError('--upstream is missing');
    proxy = [
      {
        listen: args.listen,
        upstream: args.upstream,
        replyAlias: args['reply-alias'],
        idleTimeout: args['idle-timeout'],
        maxSessions: args['max-sessions'],
        maxSessionsPerClient: args['max-sessions-per-client'],
        allow: args.allow,
      },
    ];
  }
  return { proxy, offload: args.offload, firewall: args.firewall, metrics: metricsFlags(args['metrics-listen'], args['metrics-allow']), log: args.log, logLevel: args['log-level'], pidFile: args['pid-file'], controlSocket: args['control-socket'] };
}

// The flags make one rule, proxy[0].
const ruleFlagMessage = flagErrors(
  {
    listen: '--listen',
    upstream: '--upstream',
    replyAlias: '--reply-alias',
    idleTimeout: '--idle-timeout',
    maxSessions: '--max-sessions',
    maxSessionsPerClient: '--max-sessions-per-client',
    allow: '--allow',
    logLevel: '--log-level',
    firewall: '--firewall',
  },
  'proxy[0].',
);
const flagMessage = (err: ConfigError): string => metricsFlagMessage(err) ?? ruleFlagMessage(err);

async function main(): Promise<number | void> {
  const args = parseArgs(process.argv.slice(2), SPEC);
  if (args.help) return void process.stdout.write(USAGE);
  if (args.version) return void process.stdout.write(versionLine(NAME, [`koffi ${nativeVersion()}`]));
  if (args._[0] === 'status') return statusCommand<UdpProxyStatus>(args, DEFAULT_CONTROL_SOCKET, formatStatus);
  if (args._[0] === 'metrics') return metricsCommand(args, DEFAULT_CONTROL_SOCKET);
  if (args._.length) throw new UsageError(`unexpected argument ${JSON.stringify(String(args._[0]))}`);
  const flags = flagsToConfig(args);
  const load = (): UdpProxyConfig => loadOrUsage(() => loadUdpProxyConfig(args.config, flags), !!args.config, flagMessage);
  await serveDaemon({
    name: NAME,
    config: load(),
    load,
    starting: (c) => `${NAME} ${VERSION} starting: ${c.rules.length} rule${c.rules.length === 1 ? '' : 's'}`,
    create: (c, log, warnOnce) => {
      const proxy = createUdpProxy(c.rules, { offload: c.offload });
      proxy.debugging = c.logLevel === 'debug';
      logDaemonEvents(proxy, log, warnOnce);
      return proxy;
    },
    start: (proxy) => proxy.start(),
    apply: (proxy, next) => {
      proxy.debugging = next.logLevel === 'debug';
      return proxy.reconfigure(next.rules);
    },
    // Each rule's port, from its allow list (anyone without one), on its listen address if it has one.
    metrics: udpProxyMetrics,
    openings: (_proxy, c) => c.rules.map((r) => ({ what: `rule ${r.name}`, port: r.listen.port, from: r.allow.map(formatCidr), to: r.listen.address })),
  });
}

void runMain(NAME, main);
