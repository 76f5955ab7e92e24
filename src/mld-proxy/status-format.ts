// Renders the daemon's status (from the control socket) for `mld-proxy status`.
import type { MldProxyStatus } from './daemon';

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.round(s / 60)}m ago`;
  return `${Math.round(s / 3600)}h ago`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n');
}

function counts(rec: Record<string, number>): string {
  const parts = Object.entries(rec).map(([k, v]) => `${k} ${v}`);
  return parts.length ? parts.join(', ') : 'none';
}

export function formatStatus(s: MldProxyStatus, now: number): string {
  const lines: string[] = [];
  const up = s.upstream;
  lines.push(`upstream:   ${up.name} (${up.present ? 'present' : 'missing'}), ${plural(up.groups, 'group')} joined on ${plural(up.sockets, 'socket')}`);
  lines.push(`downstream: ${s.downstream.map((d) => `${d.name} (${!d.present ? 'missing' : d.capturing ? 'capturing' : 'not capturing'})`).join(', ')}`);
  lines.push(`prefixes:   ${s.prefixes.length ? s.prefixes.join(', ') : 'none yet'}`);
  lines.push(`addresses:  ${s.addresses.length} of at most ${s.maxAddresses}, each kept ${Math.round(s.timeoutMs / 1000)}s after last seen`);
  const c = s.counters;
  lines.push(`counters:   ${c.frames} frames, ${c.ndp} NDP, ${c.joins} joins, ${c.leaves} leaves, ${c.joinFailures} join failures, ${c.refused} refused (table full)`);
  lines.push(`malformed:  ${counts(c.malformed)}`);
  lines.push(`ignored:    ${counts(c.ignored)}`);
  lines.push('');
  if (s.addresses.length === 0) {
    lines.push('no addresses learned yet');
  } else {
    const rows = [['ADDRESS', 'GROUP', 'INTERFACE', 'LAST SEEN', 'JOINED', 'FROM']];
    for (const a of s.addresses) rows.push([a.address, a.group, a.interface, ago(now - a.lastSeen), a.joined ? 'yes' : 'no', a.source]);
    lines.push(table(rows));
  }
  return lines.join('\n');
}
