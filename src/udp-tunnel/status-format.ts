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

export function formatStatus(s: UdpTunnelStatus): string {
  const head =
    `udp-tunnel: data port ${s.dataPort}, control ${s.control}, ${s.keyed ? 'key set (ChaCha20-Poly1305)' : 'no key'}` +
    `${s.keepaliveMs ? `, keepalive ${s.keepaliveMs / 1000}s` : ''}\n` +
    `unknown-source datagrams ${s.unknownSource}; control accepted ${s.controlAccepted}, refused ${s.controlRefused}, invalid ${s.controlInvalid}` +
    (s.dataPath ? `\ndata path: ${describeDataPath(s.dataPath)}${s.aead ? `; AEAD: ${s.aead}` : ''}` : '') +
    (s.offloads
      ? `\noffloads: ${s.offloads.tsoSuperPackets} super-packets cut into ${s.offloads.tsoSegments} (TSO), ${s.offloads.gsoSends} GSO sends of ${s.offloads.gsoDatagrams} datagrams, ${s.offloads.groJoined} segments joined into ${s.offloads.groSuperPackets} (GRO)`
      : '');
  if (!s.tunnels.length) return `${head}\nno tunnels`;
  const rows = [['NAME', 'REMOTE', 'ADDRESS', 'MTU', 'RX PKTS', 'RX', 'TX PKTS', 'TX', 'LAST RX', 'DROPS', 'ROUTES']];
  for (const t of s.tunnels) {
    rows.push([
      t.name,
      t.remoteServer,
      `${t.tunnelIP}/${prefixLength(t.netmask)}`,
      String(t.mtu),
      String(t.rxPackets),
      bytes(t.rxBytes),
      String(t.txPackets),
      bytes(t.txBytes),
      ago(s.now, t.lastRx) + (t.silent ? ' (silent)' : ''),
      drops(t),
      t.routes.join(' ') || '-',
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return head + '\n' + rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n');
}
