// Renders the daemon's status (from the control socket) for `ssdp-proxy status`.
import type { MdnsStatus, SsdpProxyStatus } from './counters';

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n');
}

function drops(d: Record<string, number>): string {
  const parts = Object.entries(d)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k} ${v}`);
  return parts.length ? parts.join(', ') : '-';
}

function uptime(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  return `${Math.round(s / 3600)}h`;
}

export function formatStatus(s: SsdpProxyStatus): string {
  const out: string[] = [];
  out.push(`ssdp-proxy${s.hub ? ' (hub)' : ''}: relay port ${s.port}, up ${uptime(s.now - s.startedAt)}`);
  out.push(`pending searches: ${s.pendingSearches} ours, ${s.remoteSearches} for peers (limit ${s.maxPending} each, ${s.maxPendingPerHost} per LAN host)`);
  if (s.lans.length) {
    out.push('', 'LANs:');
    out.push(
      table([
        ['name', 'state', 'searches', 'notifies', 'replies routed', 'searches in', 'notifies in', 'replies relayed', 'malformed', 'filtered'],
        ...s.lans.map((l) => [
          l.name,
          l.present ? (l.addresses.length ? l.addresses.join(' ') : 'no IPv4 address') + (l.ipv6 ? ' +IPv6' : '') : 'missing',
          String(l.searches),
          String(l.notifies),
          String(l.repliesRouted),
          String(l.searchesMulticast),
          String(l.notifiesMulticast),
          String(l.repliesRelayed),
          String(l.malformed),
          String(l.filtered),
        ]),
      ]),
    );
  }
  out.push('', 'peers:');
  out.push(
    table([
      ['address', 'searches out/in', 'replies out/in', 'notifies out/in', 'dropped'],
      ...s.peers.map((p) => [
        p.address,
        `${p.searchesSent}/${p.searchesReceived}`,
        `${p.repliesSent}/${p.repliesReceived}`,
        `${p.notifiesSent}/${p.notifiesReceived}`,
        drops(p.drops),
      ]),
    ]),
  );
  out.push('', `other drops: ${drops(s.drops)}`);
  if (s.mdns) out.push('', ...formatMdns(s.mdns));
  return out.join('\n');
}

function formatMdns(m: MdnsStatus): string[] {
  const out = [
    `mDNS${m.listening ? '' : ' (not listening yet)'}: ${m.services.length ? `only ${m.services.join(', ')}` : 'every service'}, at most ${m.rate}/s from each LAN and peer; ` +
      `${m.localNames} names in use here, ${m.hosts} hosts of relayed services`,
  ];
  if (m.lans.length) {
    out.push(
      table([
        ['LAN', 'queries out', 'responses out', 'queries in', 'responses in', 'dropped'],
        ...m.lans.map((l) => [l.name, String(l.queries), String(l.responses), String(l.queriesMulticast), String(l.responsesMulticast), drops(l.drops)]),
      ]),
    );
  }
  out.push(
    table([
      ['peer', 'queries out/in', 'responses out/in', 'dropped'],
      ...m.peers.map((p) => [p.address, `${p.queriesSent}/${p.queriesReceived}`, `${p.responsesSent}/${p.responsesReceived}`, drops(p.drops)]),
    ]),
  );
  out.push(`other mDNS drops: ${drops(m.drops)}`);
  return out;
}
