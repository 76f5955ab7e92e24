// udp-proxy's metrics: the counters `status` shows, per rule (label `rule`:
// at most 256 rules, the config's bound), never per session or client. The
// reply sources are the upstream and the rule's aliases (at most 64 each).
import { counter, gauge, type MetricFamily, type Sample } from '../lib/metrics';
import type { UdpProxy } from './daemon';

export function udpProxyMetrics(proxy: UdpProxy): MetricFamily[] {
  const rules = proxy.ruleCounters();
  const per = (f: (r: (typeof rules)[number]) => Sample[]) => rules.flatMap(f);
  return [
    counter('udp_proxy_datagrams_total', 'Datagrams forwarded, by rule and direction (to_upstream, to_client).', per((r) => [
      { labels: { rule: r.name, direction: 'to_upstream' }, value: r.counters.toUpstream.packets },
      { labels: { rule: r.name, direction: 'to_client' }, value: r.counters.toClient.packets },
    ])),
    counter('udp_proxy_bytes_total', 'Payload bytes forwarded, by rule and direction.', per((r) => [
      { labels: { rule: r.name, direction: 'to_upstream' }, value: r.counters.toUpstream.bytes },
      { labels: { rule: r.name, direction: 'to_client' }, value: r.counters.toClient.bytes },
    ])),
    counter('udp_proxy_replies_total', 'Replies accepted, by rule and source (the upstream or a reply alias).', per((r) => r.sources.map((source, i) => ({ labels: { rule: r.name, source }, value: r.replies[i] ?? 0 })))),
    counter('udp_proxy_dropped_datagrams_total', 'Datagrams dropped, by rule and reason (not_allowed: client outside the allow list; foreign_source: a reply from neither upstream nor alias; no_socket: no session socket could be opened).', per((r) => [
      { labels: { rule: r.name, reason: 'not_allowed' }, value: r.counters.drops.notAllowed },
      { labels: { rule: r.name, reason: 'foreign_source' }, value: r.counters.drops.foreignSource },
      { labels: { rule: r.name, reason: 'no_socket' }, value: r.counters.drops.noSocket },
    ])),
    counter('udp_proxy_sessions_opened_total', 'Sessions opened, by rule.', per((r) => [{ labels: { rule: r.name }, value: r.counters.sessionsOpened }])),
    counter('udp_proxy_sessions_closed_total', 'Sessions closed, by rule and reason (expired: idle; evicted: past maxSessions; evicted_per_client: past maxSessionsPerClient).', per((r) => [
      { labels: { rule: r.name, reason: 'expired' }, value: r.counters.sessionsExpired },
      { labels: { rule: r.name, reason: 'evicted' }, value: r.counters.sessionsEvicted },
      { labels: { rule: r.name, reason: 'evicted_per_client' }, value: r.counters.sessionsEvictedPerClient },
    ])),
    counter('udp_proxy_errors_total', 'Errors, by rule and kind (send: a datagram the kernel would not send; socket: an error on a socket).', per((r) => [
      { labels: { rule: r.name, kind: 'send' }, value: r.counters.sendErrors },
      { labels: { rule: r.name, kind: 'socket' }, value: r.counters.socketErrors },
    ])),
    gauge('udp_proxy_sessions', 'Sessions open now, by rule.', per((r) => [{ labels: { rule: r.name }, value: r.sessions }])),
    gauge('udp_proxy_sessions_max', 'The bound on sessions (maxSessions), by rule.', per((r) => [{ labels: { rule: r.name }, value: r.maxSessions }])),
    gauge('udp_proxy_listening', '1 while the rule listens on its port.', per((r) => [{ labels: { rule: r.name }, value: r.listening ? 1 : 0 }])),
  ];
}
