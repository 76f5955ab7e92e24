// ssdp-proxy: UPnP/SSDP discovery across a routed site-to-site VPN. The only
// file that reads argv, loads config and exits.
import { parseArgs, runMain, UsageError } from '../lib/cli';
import type { ConfigError } from '../lib/config';
import { logDaemonEvents } from '../lib/log';
import { nativeVersion } from '../lib/native';
import { serveDaemon } from '../lib/serve-daemon';
import { metricsFlagMessage, metricsFlags, METRICS_USAGE } from '../lib/metrics-config';
import { flagErrors, loadOrUsage, metricsCommand, statusCommand } from '../lib/proxy-cli';
import { VERSION, versionLine } from '../lib/version';
import { DEFAULT_CONTROL_SOCKET, DEFAULT_MAX_PENDING, DEFAULT_MAX_PENDING_PER_HOST, DEFAULT_PORT, loadSsdpProxyConfig, type SsdpProxyConfig } from '../ssdp-proxy/config';
import { createSsdpProxy, type SsdpProxyStatus } from '../ssdp-proxy/daemon';
import { ssdpProxyMetrics } from '../ssdp-proxy/metrics';
import { formatStatus } from '../ssdp-proxy/status-format';

const NAME = 'ssdp-proxy';

const USAGE = `Usage: ${NAME} --lan IFACE [--lan IFACE]... --peer ADDR [--peer ADDR]... --key-file FILE [options]
       ${NAME} --hub --peer ADDR... --key-file FILE [options]
       ${NAME} --config FILE [options]
       ${NAME} status [--control-socket PATH] [--json]
       ${NAME} metrics [--control-socket PATH]

Relays SSDP (UPnP/DLNA discovery, 239.255.255.250:1900) between the LANs of
sites joined by a routed VPN (WireGuard). Every site's router runs it; each
names the other sites' relay addresses as peers, or a hub's. Searches from a
LAN go to the peers, which multicast them on their LANs; every reply comes
back to the client's own address and port. NOTIFYs are relayed too.
Example (site 10.0.0.1, two other sites):
  ${NAME} --lan br0 --peer 10.0.0.2 --peer 10.0.0.3 --key-file /data/udm-proxies/ssdp.key

Options:
  --lan IFACE               a LAN interface (waited for if missing); repeatable
  --peer ADDR               another site's proxy (IPv4 or IPv6); repeatable; no one else is heard
  --key-file FILE           the key every site shares (openssl rand -hex 32 > FILE)
  --hub                     relay between the peers (a hub needs no --lan)
  --port N                  relay UDP port, the same at every site (${DEFAULT_PORT})
  --max-pending N           bound on searches waiting for replies (${DEFAULT_MAX_PENDING})
  --max-pending-per-host N  of which one LAN host may have (${DEFAULT_MAX_PENDING_PER_HOST})
  --mdns                    relay mDNS too (Bonjour, AirPlay, Chromecast: 224.0.0.251
                            and ff02::fb port 5353), over the same peers and key
  --mdns-service TYPE       relay only this service type (_airplay._tcp), and the
                            hosts its services point to; repeatable; implies --mdns
  --firewall MODE           open the ports this proxy listens on in UniFi's
                            firewall: auto (only where UniFi's chains are),
                            on, or off (auto)
${METRICS_USAGE}
  --config FILE             JSON config (lans, peers, keyFile, hub, port, ...); SIGHUP
                            reloads it, pending searches stay
  --log FILE                log here (size-capped at 1 MiB, one old file kept)
  --log-level LEVEL         debug, info, warn or error (info)
  --pid-file FILE           write the PID here; refuse to start twice
  --control-socket PATH     for 'status' (${DEFAULT_CONTROL_SOCKET})
  -h, --help                this help
  -v, --version             print the version
`;

const SPEC = {
  string: ['lan', 'peer', 'key-file', 'config', 'log', 'log-level', 'pid-file', 'control-socket', 'mdns-service', 'firewall', 'metrics-listen', 'metrics-allow'],
  boolean: ['help', 'version', 'json', 'hub', 'mdns'],
  integer: ['port', 'max-pending', 'max-pending-per-host'],
  repeatable: ['lan', 'peer', 'mdns-service', 'metrics-allow'],
  alias: { h: 'help', v: 'version' },
};

type Args = ReturnType<typeof parseArgs>;

const list = (v: string[]) => (v.length ? v : undefined);

function flagsToConfig(args: Args): Record<string, unknown> {
  return {
    lans: list(args.lan),
    peers: list(args.peer),
    keyFile: args['key-file'],
    hub: args.hub ? true : undefined,
    port: args.port,
    maxPending: args['max-pending'],
    maxPendingPerHost: args['max-pending-per-host'],
    mdns: args.mdns || args['mdns-service'].length ? { services: args['mdns-service'] } : undefined,
    firewall: args.firewall,
    metrics: metricsFlags(args['metrics-listen'], args['metrics-allow']),
    log: args.log,
    logLevel: args['log-level'],
    pidFile: args['pid-file'],
    controlSocket: args['control-socket'],
  };
}

const fieldFlag = flagErrors({ lans: '--lan', peers: '--peer', keyFile: '--key-file', port: '--port', maxPending: '--max-pending', maxPendingPerHost: '--max-pending-per-host', logLevel: '--log-level', firewall: '--firewall' });
// --mdns-service becomes mdns.services[i], which flagErrors does not name.
const flagMessage = (err: ConfigError): string => (/^mdns\.services\b/.test(err.field) ? `--mdns-service: ${err.reason}` : (metricsFlagMessage(err) ?? fieldFlag(err)));

async function main(): Promise<number | void> {
  const args = parseArgs(process.argv.slice(2), SPEC);
  if (args.help) return void process.stdout.write(USAGE);
  // The relay needs no native code; koffi only gives memory back (malloc_trim
  // and madvise when it settles after its start and after a burst,
  // lib/memory.ts), and that warns once and goes on without it.
  if (args.version) return void process.stdout.write(versionLine(NAME, [koffiPart()]));
  if (args._[0] === 'metrics') return metricsCommand(args, DEFAULT_CONTROL_SOCKET);
  if (args._[0] === 'status') return statusCommand<SsdpProxyStatus>(args, DEFAULT_CONTROL_SOCKET, formatStatus);
  if (args._.length) throw new UsageError(`unexpected argument ${JSON.stringify(String(args._[0]))}`);
  const flags = flagsToConfig(args);
  const load = (): SsdpProxyConfig => loadOrUsage(() => loadSsdpProxyConfig(args.config, flags), !!args.config, flagMessage);
  await serveDaemon({
    name: NAME,
    config: load(),
    load,
    starting: (c) =>
      `${NAME} ${VERSION} starting: ${c.hub ? 'hub, ' : ''}LANs ${c.lans.join(', ') || 'none'}; ${c.peers.length} peer${c.peers.length === 1 ? '' : 's'}${c.mdns ? '; mDNS too' : ''}`,
    create: (c, log, warnOnce) => {
      const proxy = createSsdpProxy(c);
      logDaemonEvents(proxy, log, warnOnce);
      return proxy;
    },
    start: (proxy) => proxy.start(),
    apply: (proxy, next) => proxy.reconfigure(next),
    metrics: ssdpProxyMetrics,
    // The relay port, from the peers only: the LAN side is the LAN's own multicast, which UniFi lets in.
    openings: (_proxy, c) => [{ what: 'relay port', port: c.port, from: c.peers }],
  });
}

function koffiPart(): string {
  try {
    return `koffi ${nativeVersion()}`;
  } catch (err) {
    return `koffi not loaded: ${(err as Error).message}`;
  }
}

void runMain(NAME, main);
