// mld-proxy's metrics: the counters `status` shows, without the address list.
// Labels: `reason` (the NDP decoder's and the address filter's fixed sets),
// `interface` (the configured ones: at most 64 downstream and the upstream).
import { byReason, counter, gauge, type MetricFamily } from '../lib/metrics';
import type { MldProxy } from './daemon';

export function mldProxyMetrics(proxy: MldProxy): MetricFamily[] {
  const s = proxy.summary();
  const c = s.counters;
  return [
    counter('mld_proxy_frames_total', 'Frames captured on the LAN interfaces.', c.frames),
    counter('mld_proxy_ndp_messages_total', 'NDP messages decoded from them.', c.ndp),
    counter('mld_proxy_malformed_frames_total', 'Frames dropped as malformed NDP, by reason.', byReason(c.malformed)),
    counter('mld_proxy_ignored_addresses_total', 'Addresses not learned, by reason (outside the prefixes, link-local, our own, ...).', byReason(c.ignored)),
    counter('mld_proxy_addresses_learned_total', 'Addresses added to the table (from NDP, the neighbour table or the state file).', c.learned),
    counter('mld_proxy_addresses_refused_total', 'Addresses not learned because the table was full (maxAddresses).', c.refused),
    counter('mld_proxy_joins_total', 'Solicited-node groups joined on the upstream.', c.joins),
    counter('mld_proxy_leaves_total', 'Solicited-node groups left on the upstream.', c.leaves),
    counter('mld_proxy_join_failures_total', 'Joins the kernel refused (retried).', c.joinFailures),
    gauge('mld_proxy_addresses', 'Addresses in the table now.', s.addressCount),
    gauge('mld_proxy_addresses_max', 'The bound on the table (maxAddresses).', s.maxAddresses),
    gauge('mld_proxy_groups', 'Solicited-node groups joined on the upstream now.', s.upstream.groups),
    gauge('mld_proxy_interface_present', '1 while the interface exists, by interface and role (upstream, downstream).', [
      { labels: { interface: s.upstream.name, role: 'upstream' }, value: s.upstream.present ? 1 : 0 },
      ...s.downstream.map((d) => ({ labels: { interface: d.name, role: 'downstream' }, value: d.present ? 1 : 0 })),
    ]),
    gauge('mld_proxy_capturing', "1 while NDP is captured on the downstream interface.", s.downstream.map((d) => ({ labels: { interface: d.name }, value: d.capturing ? 1 : 0 }))),
  ];
}
