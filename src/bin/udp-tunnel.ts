// udp-tunnel: a runtime-managed mesh of point-to-point UDP tunnels over tun
// devices (the original udpProxyServer.py / udpProxyServerControl.py). The only
// file that reads argv, loads keys and exits.
import dgram from 'node:dgram';
import dns from 'node:dns/promises';
import fs from 'node:fs';
import os from 'node:os';
import { parseArgs, runMain, UsageError } from '../lib/cli';
import { ConfigError } from '../lib/config';
import { firewallMode, type FirewallMode } from '../lib/firewall';
import { isIPv4, isIPv6 } from '../lib/ip';
import { nativeVersion } from '../lib/native';
import { serveDaemon } from '../lib/serve-daemon';
import { metricsCommand, statusCommand } from '../lib/proxy-cli';
import { metricsFlagMessage, metricsFlags, metricsSettings, METRICS_USAGE, type MetricsSettings } from '../lib/metrics-config';
import { udpTunnelMetrics } from '../udp-tunnel/metrics';
import { VERSION, versionLine } from '../lib/version';
import { rewriteOriginalFlags } from '../udp-tunnel/argv';
import { isSigned, signMessage, verifyMessage } from '../udp-tunnel/control-auth';
import { createUdpTunnel, type ControlReply, type UdpTunnelStatus } from '../udp-tunnel/daemon';
import { deriveKeys, type TunnelKeys } from '../udp-tunnel/keys';
import { newSite } from '../udp-tunnel/aead';
import { loadPeerSites, loadSite, loadState, saveState } from '../udp-tunnel/state-file';
import { formatStatus } from '../udp-tunnel/status-format';
import { encodeControlBody, existingTunnelName, mtu, netmask, remoteHost, route, tunnelAddress6, tunnelName, unicastIPv4 } from '../udp-tunnel/tunnel-spec';
import { logDaemonEvents, parseLevel, type Level } from '../lib/log';

const NAME = 'udp-tunnel';
const DEFAULT_CONTROL_SOCKET = '/run/udp-tunnel.sock';
const CTL_TIMEOUT_MS = 3000;

const USAGE = `Usage: ${NAME} serve [-dp PORT] [-cp PORT] [options]
       ${NAME} ctl -s SERVER -o add -n NAME -t TUNNEL_IP [-m NETMASK] [--mtu N] -r REMOTE
                  [-p CONTROL_PORT] [--route CIDR]... [--tunnel6 IP6/LEN] [--key-file FILE]
       ${NAME} ctl -s SERVER -o del -n NAME [-p CONTROL_PORT] [--key-file FILE]
       ${NAME} ctl -s SERVER -o list [-p CONTROL_PORT] [--key-file FILE] [--json]
       ${NAME} status [--control-socket PATH] [--json]
       ${NAME} metrics [--control-socket PATH]

A mesh of point-to-point UDP tunnels: each tunnel is a tun device whose IP
packets travel as UDP datagrams to the remote's data port. Tunnels are added
and deleted at run time with 'ctl' (the original udpProxyServerControl.py's
flags and JSON messages work too). Example, on host 192.0.2.1:
  ${NAME} serve -dp 5000 -cp 5001 --state /data/udm-proxies/udp-tunnel/state.json &
  ${NAME} ctl -s 192.0.2.1 -o add -n udp2 -t 10.0.1.1 -r 192.0.2.2 --route 192.168.2.0/24

serve options:
  -dp, --data-port PORT     data (tunnel traffic) UDP port, every address (5000)
  -cp, --control-port PORT  control UDP port (5001)
  --control-address ADDR    where control listens (127.0.0.1); any other
                            address needs --key-file
  --key-file FILE           shared secret (16+ bytes; head -c 32 /dev/urandom |
                            base64): control messages from off localhost must be
                            signed with it, and data is ChaCha20-Poly1305 sealed
  --state FILE              keep the tunnels here; restored at start
  --keepalive SECONDS       send a keepalive every SECONDS (0: off); a peer
                            silent for 3 of them shows as silent in 'list' (and
                            its name is looked up again); a site behind NAT
                            needs it (25) to hold its mapping open
  --no-offload              no batches (recvmmsg/sendmmsg), no UDP GSO, no tun
                            TSO/GRO: one packet per system call, for a kernel
                            that misbehaves
  --firewall MODE           let each tunnel's remote in to the data port (and
                            to control, off localhost) in UniFi's firewall:
                            auto (only where UniFi's chains are), on or off (auto)
${METRICS_USAGE}
  --log FILE, --log-level LEVEL, --pid-file FILE, --control-socket PATH (${DEFAULT_CONTROL_SOCKET})
ctl options:
  -s, --server HOST         the daemon to talk to (a local address means 127.0.0.1)
  -p, --port PORT           its control port (5001)
  -o, --op OP               add, del (delete) or list (add)
  -n, --name NAME           tun device name (1..15 of A-Z a-z 0-9 _ . -,
                            starting with a letter or digit)
  -t, --tunnel IP           the tunnel's local address
  -m, --netmask MASK        255.255.255.0 or 24 (255.255.255.252); -m with a
                            number above 32 is the MTU, as in the original
  --mtu N                   tun MTU (1500)
  -r, --remote HOST         the remote daemon: IPv4 or IPv6 address, or DNS
                            name (resolved by the daemon, again on its TTL;
                            with a key the tunnel follows the peer anywhere)
  --route CIDR              route this prefix (IPv4 or IPv6) into the tunnel;
                            repeatable
  --tunnel6 IP6/LEN         the tunnel's IPv6 address too (fd00:1::1/64)
  --key-file FILE           sign the message (and check the reply) with this key
  --json                    list: print JSON
  -h, --help, -v, --version
`;

const SPEC = {
  string: ['control-address', 'key-file', 'state', 'firewall', 'metrics-listen', 'metrics-allow', 'log', 'log-level', 'pid-file', 'control-socket', 'server', 'op', 'name', 'tunnel', 'tunnel6', 'netmask', 'remote', 'route'],
  boolean: ['help', 'version', 'json', 'offload'],
  integer: ['data-port', 'control-port', 'keepalive', 'port', 'mtu'],
  repeatable: ['route', 'metrics-allow'],
  // A tunnel name is the user's word: "-n -x" must reach the daemon, which says what is wrong with it.
  anyValue: ['name'],
  alias: { h: 'help', v: 'version', s: 'server', p: 'port', o: 'op', n: 'name', t: 'tunnel', r: 'remote' },
};

type Args = ReturnType<typeof parseArgs>;

interface ServeConfig {
  dataPort: number;
  controlPort: number;
  controlAddress: string;
  keys?: TunnelKeys;
  keyFile?: string;
  state?: string;
  keepaliveMs: number;
  offload: boolean;
  firewall: FirewallMode;
  metrics?: MetricsSettings;
  log?: string;
  logLevel: Level;
  pidFile?: string;
  controlSocket: string;
}

function flag<T>(name: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(`--${name}: ${err.reason}`);
    throw err;
  }
}

function levelArg(v: string | undefined): Level {
  try {
    return parseLevel(v ?? 'info');
  } catch (err) {
    throw new UsageError(`--log-level: ${(err as Error).message}`);
  }
}

function metricsArg(args: Args): MetricsSettings | undefined {
  try {
    return metricsSettings(metricsFlags(args['metrics-listen'], args['metrics-allow']));
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(metricsFlagMessage(err) ?? err.message);
    throw err;
  }
}

function portArg(args: Args, name: string, fallback: number): number {
  const v = args[name] ?? fallback;
  if (v < 1 || v > 65535) throw new UsageError(`--${name}: ${v} is out of range 1..65535`);
  return v;
}

function readKeys(file: string): TunnelKeys {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the key file ${file}: ${(err as Error).message}`);
  }
  try {
    return deriveKeys(text);
  } catch (err) {
    throw new Error(`key file ${file}: ${(err as Error).message}`);
  }
}

function loadServe(args: Args): ServeConfig {
  const controlAddress = args['control-address'] ?? '127.0.0.1';
  if (!isIPv4(controlAddress) && !isIPv6(controlAddress)) throw new UsageError(`--control-address: ${JSON.stringify(controlAddress)} is not an IP address`);
  const keyFile: string | undefined = args['key-file'];
  if (!keyFile && !controlAddress.startsWith('127.') && controlAddress !== '::1') {
    throw new UsageError(`--control-address ${controlAddress} is off localhost: give --key-file so control messages are authenticated`);
  }
  const keepalive = args.keepalive ?? 0;
  if (keepalive < 0 || keepalive > 3600) throw new UsageError(`--keepalive: ${keepalive} is out of range 0..3600`);
  return {
    dataPort: portArg(args, 'data-port', 5000),
    controlPort: portArg(args, 'control-port', 5001),
    controlAddress,
    keyFile,
    keys: keyFile ? readKeys(keyFile) : undefined,
    state: args.state,
    keepaliveMs: keepalive * 1000,
    offload: args.offload !== false,
    firewall: flag('firewall', () => firewallMode(args.firewall ?? 'auto', 'firewall')),
    metrics: metricsArg(args),
    log: args.log,
    logLevel: levelArg(args['log-level']),
    pidFile: args['pid-file'],
    controlSocket: args['control-socket'] ?? DEFAULT_CONTROL_SOCKET,
  };
}

async function serve(args: Args): Promise<void> {
  const config = loadServe(args);
  nativeVersion(); // a missing native layer fails now, not at the first 'add'
  const initial = config.state ? loadState(config.state) : [];
  // The site keyed peers know this daemon by: kept in the state file from the first start on.
  const peers = config.state ? loadPeerSites(config.state) : {};
  let site = config.state ? loadSite(config.state) : undefined;
  if (site === undefined) {
    site = newSite();
    if (config.state) saveState(config.state, initial, site);
  }
  await serveDaemon({
    name: NAME,
    config,
    load: () => loadServe(args),
    starting: (c) => `${NAME} ${VERSION} starting: data port ${c.dataPort}, control ${c.controlAddress}:${c.controlPort}, ${initial.length} tunnel(s) in the state file`,
    create: (c, log, warnOnce) => {
      const d = createUdpTunnel(
        { dataPort: c.dataPort, controlPort: c.controlPort, controlAddress: c.controlAddress, keys: c.keys, keepaliveMs: c.keepaliveMs, offload: c.offload, site },
        { initialTunnels: initial, initialPeerSites: peers, saveTunnels: c.state ? (t, p) => saveState(c.state!, t, site, p) : undefined },
      );
      logDaemonEvents(d, log, warnOnce);
      return d;
    },
    start: (d) => d.start(),
    metrics: udpTunnelMetrics,
    apply: async (d, next) => {
      if (next.dataPort !== config.dataPort || next.controlPort !== config.controlPort || next.keyFile !== config.keyFile) {
        throw new Error('ports and key take effect at the next start');
      }
      await d.resolveAll(); // SIGHUP: every remote's name asked again
    },
    // The data port from each tunnel's remote addresses (names as last resolved; the
    // firewall looks again each tick); with a key, from anywhere: a peer may move to an
    // address nobody knows in advance, and the tag, not the address, lets it in.
    // Control too when it listens off localhost.
    openings: (d, c) => {
      const from = d.remotes();
      if (from.length === 0) return [];
      const data = { what: 'data port', port: c.dataPort, from: d.roaming ? [] : from };
      const local = c.controlAddress.startsWith('127.') || c.controlAddress === '::1';
      return local ? [data] : [data, { what: 'control port', port: c.controlPort, from, to: c.controlAddress === '0.0.0.0' || c.controlAddress === '::' ? undefined : c.controlAddress }];
    },
  });
}

function localAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) out.add(a.address);
  return out;
}

function ctlBody(args: Args): string {
  const op = args.op ?? 'add';
  if (op === 'list') return encodeControlBody('list');
  if (op !== 'add' && op !== 'del' && op !== 'delete') throw new UsageError(`-o: expected add, del or list, got ${JSON.stringify(op)}`);
  if (!args.name) throw new UsageError('-n NAME is missing');
  if (op !== 'add') {
    const name = flag('name', () => existingTunnelName(args.name, 'name'));
    // The original client required -t and -r for del too; we take and ignore them.
    return encodeControlBody('del', { name });
  }
  const name = flag('name', () => tunnelName(args.name, 'name'));
  if (!args.tunnel) throw new UsageError('-t TUNNEL_IP is missing');
  if (!args.remote) throw new UsageError('-r REMOTE is missing');
  return encodeControlBody('add', {
    name,
    tunnelIP: flag('tunnel', () => unicastIPv4(args.tunnel, 'tunnel')),
    netmask: flag('netmask', () => netmask(args.netmask ?? '255.255.255.252', 'netmask')),
    mtu: flag('mtu', () => mtu(args.mtu ?? 1500, 'mtu')),
    remoteServer: flag('remote', () => remoteHost(args.remote, 'remote')),
    routes: (args.route as string[]).map((r) => flag('route', () => route(r, 'route'))),
    tunnelIP6: args.tunnel6 === undefined ? undefined : flag('tunnel6', () => tunnelAddress6(args.tunnel6, 'tunnel6')),
  });
}

async function ctl(args: Args, positional: string[]): Promise<number> {
  const server: string | undefined = args.server ?? positional[0];
  if (!server) throw new UsageError('-s SERVER is missing');
  if (positional.length > (args.server ? 0 : 1)) throw new UsageError(`unexpected argument ${JSON.stringify(positional[args.server ? 0 : 1])}`);
  const port = portArg(args, 'port', 5001);
  const body = ctlBody(args);
  const keys = args['key-file'] ? readKeys(args['key-file']) : undefined;
  const bare = server.replace(/^\[(.*)\]$/, '$1');
  let address = isIPv4(bare) || isIPv6(bare) ? bare : (await dns.lookup(bare)).address;
  // The original README talks to each host's own address; our daemon listens on
  // 127.0.0.1 unless it has a key, so an unsigned message to ourselves goes there.
  if (!keys && !address.startsWith('127.') && localAddresses().has(address)) address = '127.0.0.1';
  const text = keys ? signMessage(keys.control, body, Date.now()) : body;
  const raw = await exchange(text, address, port);
  // With a key, only a signed reply counts as success: an unsigned one may be a
  // refusal (a daemon without the key) or anyone's forgery.
  const signedReply = keys !== undefined && isSigned(raw);
  const replyText = signedReply ? verifyMessage(keys!.control, raw, Date.now()).body : raw;
  let reply: ControlReply;
  try {
    reply = JSON.parse(replyText);
  } catch {
    throw new Error(`unreadable reply from ${address}:${port}`);
  }
  if (keys && !signedReply && reply.ok) throw new Error(`${server}: the reply is not signed; is the daemon using the same --key-file?`);
  if (!reply.ok) throw new Error(`${server}: ${reply.error}`);
  if (reply.status) {
    process.stdout.write(args.json ? JSON.stringify(reply.status, null, 2) + '\n' : formatStatus(reply.status as UdpTunnelStatus) + '\n');
  } else {
    process.stdout.write(`${server}: ${reply.message ?? 'ok'}\n`);
  }
  return 0;
}

function exchange(text: string, address: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
    const timer = setTimeout(() => {
      s.close();
      reject(new Error(`no reply from ${address}:${port} within ${CTL_TIMEOUT_MS / 1000} s (is '${NAME} serve' running there, listening on that address?)`));
    }, CTL_TIMEOUT_MS);
    s.on('message', (msg, rinfo) => {
      if (rinfo.address !== address || rinfo.port !== port) return;
      clearTimeout(timer);
      s.close();
      resolve(msg.toString('utf8'));
    });
    s.on('error', (err) => {
      clearTimeout(timer);
      s.close();
      reject(err);
    });
    s.send(text, port, address);
  });
}

async function main(): Promise<number | void> {
  const args = parseArgs(rewriteOriginalFlags(process.argv.slice(2)), SPEC);
  if (args.help) return void process.stdout.write(USAGE);
  if (args.version) return void process.stdout.write(versionLine(NAME, [`koffi ${nativeVersion()}`]));
  const [cmd, ...rest] = args._.map(String);
  if (cmd === 'ctl') return ctl(args, rest);
  if (cmd === 'metrics') return metricsCommand(args, DEFAULT_CONTROL_SOCKET);
  if (cmd === 'status') return statusCommand<UdpTunnelStatus>(args, DEFAULT_CONTROL_SOCKET, formatStatus);
  // No subcommand: serve, like the original's `udpProxyServer.py -dp 5000 -cp 5001`.
  if (cmd === undefined || cmd === 'serve') {
    if (rest.length) throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])}`);
    return serve(args);
  }
  throw new UsageError(`unknown command ${JSON.stringify(cmd)} (serve, ctl or status)`);
}

void runMain(NAME, main);
