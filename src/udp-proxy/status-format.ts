// Renders the daemon's status (from the control socket) for `udp-proxy status`.
import { describeOffload } from '../lib/offload';
import type { UdpProxyStatus } from './daemon';
import type { Flow, RuleStatus } from './rule';

const MAX_ROWS = 50;

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.round(s / 60)}m ago`;
  return `${Math.round(s / 3600)}h ago`;
}

function bytes(n: number): string {
  if (n < 10_000) return `${n} B`;
  if (n < 10_000_000) return `${Math.round(n / 1000)} kB`;
  if (n < 10_000_000_000) return `${Math.round(n / 1_000_000)} MB`;
  return `${Math.round(n / 1_000_000_000)} GB`;
}

function flow(f: Flow): string {
  return `${f.packets} packets, ${bytes(f.bytes)}`;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n');
}

function formatRule(r: RuleStatus, now: number): string {
  const c = r.counters;
  const lines: string[] = [];
  const route = `${r.listen} -> ${r.upstream}`;
  lines.push(`rule ${r.name === route ? route : `${r.name}: ${route}`}${r.listening ? '' : ' (NOT LISTENING, retrying)'}`);
  const from = [`${r.upstream} ${r.replies[0] ?? 0}`, ...r.aliases.map((a, i) => `${a}${/:\d+$/.test(a) ? '' : ' (any port)'} ${r.replies[i + 1] ?? 0}`)];
  lines.push(`  replies from:  ${from.join(', ')}`);
  lines.push(`  sessions:      ${r.sessions.length} of at most ${r.maxSessions} (${r.maxSessionsPerClient} per client), closed after ${Math.round(r.idleTimeoutMs / 1000)}s idle; ${c.sessionsOpened} opened, ${c.sessionsExpired} expired, ${c.sessionsEvicted} evicted (bound), ${c.sessionsEvictedPerClient ?? 0} by their own client's newer ones (per-client bound)`);
  lines.push(`  allow:         ${r.allow.length ? r.allow.join(', ') : 'any client'}`);
  lines.push(`  to upstream:   ${flow(c.toUpstream)}`);
  lines.push(`  to clients:    ${flow(c.toClient)}`);
  lines.push(`  dropped:       ${c.drops.foreignSource} from foreign sources, ${c.drops.notAllowed} from clients not allowed, ${c.drops.noSocket} without a socket`);
  lines.push(`  errors:        ${c.sendErrors} on send, ${c.socketErrors} reported by the kernel (ICMP unreachable and kin)`);
  if (r.sessions.length) {
    const rows = [['  CLIENT', 'PORT', 'LAST SEEN', 'TO UPSTREAM', 'TO CLIENT', 'FOREIGN', 'ERRORS']];
    for (const s of r.sessions.slice(0, MAX_ROWS)) {
      const errs = s.sendErrors + s.socketErrors;
      rows.push([`  ${s.client}`, String(s.localPort), ago(now - s.lastSeen), String(s.toUpstream.packets), String(s.toClient.packets), String(s.foreign), errs ? `${errs} (${s.lastError})` : '0']);
    }
    lines.push(table(rows));
    if (r.sessions.length > MAX_ROWS) lines.push(`  ... and ${r.sessions.length - MAX_ROWS} more (least recently used; see --json)`);
  }
  return lines.join('\n');
}

export function formatDataPath(s: Pick<UdpProxyStatus, 'dataPath' | 'batch'>): string {
  return `data path: ${describeOffload(s.dataPath?.batching, `batched, up to ${s.batch} datagrams per system call (recvmmsg/sendmmsg)`, 'one datagram per system call')}`;
}

export function formatStatus(s: UdpProxyStatus, now: number = s.now): string {
  return [formatDataPath(s), ...s.rules.map((r) => formatRule(r, now))].join('\n\n');
}
