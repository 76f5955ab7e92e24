// `udp-tunnel ctl -o list` and `udp-tunnel status`: one line per tunnel.
import { describeDataPath, type TunnelStatus, type UdpTunnelStatus } from './daemon';
import { prefixLength } from './tunnel-spec';

function ago(now: number, t: number | null): string {
  if (t === null) return 'never';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.round(s / 60)}m ago`;
  return `${Math.round(s / 3600)}h ago`;
}

function bytes(n: number): string {
  if (n < 10_000) return `${n}B`;
  if (n < 10_000_000) return `${Math.round(n / 1000)}kB`;
  if (n < 10_000_000_000) return `${Math.round(n / 1_000_000)}MB`;
  return `${Math.round(n / 1_000_000_000)}GB`;
}

function drops(t: TunnelStatus): string {
  const d = t.drops;
  const parts = Object.entries(d)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${k}=${v}`);
  return parts.length ? parts.join(',') : '0';
}

/** "peer.example (192.0.2.2, resolved 5s ago)"; a literal as it is. */
function remote(now: number, t: TunnelStatus): string {
  const addresses = t.addresses ?? [];
  if (addresses.length === 1 && addresses[0] === t.remoteServer) return t.remoteServer;
  const list = addresses.length ? addresses.join(' ') : 'no address';
  const when = t.resolveError ? `lookup failing: ${t.resolveError}` : `resolved ${ago(now, t.resolvedAt ?? null)}`;
  return `${t.remoteServer} (${list}, ${when})`;
}

/** "192.0.2.2:5000 (learned, moved 3s ago)". */
function endpoint(now: number, t: TunnelStatus): string {
  if (!t.endpoint) return '-';
  return `${t.endpoint} (${t.endpointSource}${t.moves ? `, moved ${t.moves}x, last ${ago(now, t.movedAt)}` : ''})`;
}

export function formatStatus(s: UdpTunnelStatus): string {
  const head =
    `udp-tunnel: data port ${s.dataPort}, control ${s.control}, ${s.keyed ? 'key set (ChaCha20-Poly1305)' : 'no key'}` +
    `${s.keepaliveMs ? `, keepalive ${s.keepaliveMs / 1000}s` : ''}${s.site ? `, site ${s.site}` : ''}\n` +
    `unknown-source datagrams ${s.unknownSource}; control accepted ${s.controlAccepted}, refused ${s.controlRefused}, invalid ${s.controlInvalid}` +
    (s.dataPath ? `\ndata path: ${describeDataPath(s.dataPath)}${s.aead ? `; AEAD: ${s.aead}` : ''}` : '') +
    (s.offloads
      ? `\noffloads: ${s.offloads.tsoSuperPackets} super-packets cut into ${s.offloads.tsoSegments} (TSO), ${s.offloads.gsoSends} GSO sends of ${s.offloads.gsoDatagrams} datagrams, ${s.offloads.groJoined} segments joined into ${s.offloads.groSuperPackets} (GRO)`
      : '');
  const warnings = (s.warnings ?? []).map((w) => `\nwarning: ${w}`).join('');
  if (!s.tunnels.length) return `${head}\nno tunnels${warnings}`;
  const rows = [['NAME', 'REMOTE', 'ADDRESS', 'MTU', 'RX PKTS', 'RX', 'TX PKTS', 'TX', 'LAST RX', 'DROPS', 'ENDPOINT', 'ROUTES']];
  for (const t of s.tunnels) {
    rows.push([
      t.name,
      remote(s.now, t),
      `${t.tunnelIP}/${prefixLength(t.netmask)}${t.tunnelIP6 ? ` ${t.tunnelIP6}` : ''}`,
      String(t.mtu),
      String(t.rxPackets),
      bytes(t.rxBytes),
      String(t.txPackets),
      bytes(t.txBytes),
      ago(s.now, t.lastRx) + (t.silent ? ' (silent)' : ''),
      drops(t),
      endpoint(s.now, t),
      t.routes.join(' ') || '-',
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return head + '\n' + rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n') + warnings;
}
