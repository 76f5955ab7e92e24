// ssdp-proxy's metrics: the counters `status` shows (status() is small here:
// counters per LAN and per peer, no tables). Labels: `lan` and `peer` are the
// configured ones (at most 32 LANs and 64 peers, the config's bounds);
// `reason` is one of the relay's fixed drop reasons; `type` and `direction`
// are fixed words.
import { byReason, counter, gauge, type MetricFamily, type Sample } from '../lib/metrics';
import type { SsdpProxy } from './daemon';

export function ssdpProxyMetrics(proxy: SsdpProxy): MetricFamily[] {
  const s = proxy.status();
  const lan = (f: (l: (typeof s.lans)[number]) => Sample[]) => s.lans.flatMap(f);
  const peer = (f: (p: (typeof s.peers)[number]) => Sample[]) => s.peers.flatMap(f);
  const out: MetricFamily[] = [
    counter('ssdp_proxy_lan_received_total', 'Searches and NOTIFYs taken from a LAN for the peers, by LAN and type.', lan((l) => [
      { labels: { lan: l.name, type: 'search' }, value: l.searches },
      { labels: { lan: l.name, type: 'notify' }, value: l.notifies },
    ])),
    counter('ssdp_proxy_lan_multicast_total', "Peers' searches and NOTIFYs multicast on a LAN, by LAN and type.", lan((l) => [
      { labels: { lan: l.name, type: 'search' }, value: l.searchesMulticast },
      { labels: { lan: l.name, type: 'notify' }, value: l.notifiesMulticast },
    ])),
    counter('ssdp_proxy_lan_replies_routed_total', "Replies from the peers sent to a LAN client's own address and port, by LAN.", lan((l) => [{ labels: { lan: l.name }, value: l.repliesRouted }])),
    counter('ssdp_proxy_lan_replies_relayed_total', "Replies from a LAN's devices to a peer's search, relayed to the peer, by LAN.", lan((l) => [{ labels: { lan: l.name }, value: l.repliesRelayed }])),
    counter('ssdp_proxy_lan_dropped_total', 'Messages from a LAN not relayed, by LAN and reason (malformed; filtered by an ST/NT filter).', lan((l) => [
      { labels: { lan: l.name, reason: 'malformed' }, value: l.malformed },
      { labels: { lan: l.name, reason: 'filtered' }, value: l.filtered },
    ])),
    counter('ssdp_proxy_peer_messages_total', 'Relay messages exchanged with a peer, by peer, type (search, reply, notify) and direction (sent, received).', peer((p) => [
      { labels: { peer: p.address, type: 'search', direction: 'sent' }, value: p.searchesSent },
      { labels: { peer: p.address, type: 'search', direction: 'received' }, value: p.searchesReceived },
      { labels: { peer: p.address, type: 'reply', direction: 'sent' }, value: p.repliesSent },
      { labels: { peer: p.address, type: 'reply', direction: 'received' }, value: p.repliesReceived },
      { labels: { peer: p.address, type: 'notify', direction: 'sent' }, value: p.notifiesSent },
      { labels: { peer: p.address, type: 'notify', direction: 'received' }, value: p.notifiesReceived },
    ])),
    counter('ssdp_proxy_peer_dropped_total', 'Relay datagrams from a peer dropped, by peer and reason (bad_auth, replay, hop_limit, ...).', peer((p) => byReason(p.drops, { peer: p.address }))),
    counter('ssdp_proxy_dropped_total', 'Datagrams dropped that belong to no configured peer or LAN, by reason (unknown_peer, pending_full, host_quota, ...).', byReason(s.drops)),
    gauge('ssdp_proxy_pending_searches', "LAN clients' searches waiting for replies.", s.pendingSearches),
    gauge('ssdp_proxy_pending_searches_max', 'The bound on them (maxPending).', s.maxPending),
    gauge('ssdp_proxy_remote_searches', "Peers' searches multicast here and waiting for replies.", s.remoteSearches),
    {
      name: 'ssdp_proxy_reply_delay_seconds',
      help: "Time from a LAN client's search to each reply from the peers routed back to it, in seconds: the VPN's round trip, the relays' and the device's wait (within the search's MX).",
      type: 'histogram',
      samples: [proxy.replyDelay.sample()],
    },
    gauge('ssdp_proxy_lan_present', '1 while the LAN interface exists.', lan((l) => [{ labels: { lan: l.name }, value: l.present ? 1 : 0 }])),
  ];
  const m = s.mdns;
  if (m) {
    out.push(
      counter('ssdp_proxy_mdns_lan_packets_total', 'mDNS packets taken from a LAN for the peers (received) or multicast on it from them (multicast), by LAN, type (query, response) and direction.', m.lans.flatMap((l) => [
        { labels: { lan: l.name, type: 'query', direction: 'received' }, value: l.queries },
        { labels: { lan: l.name, type: 'response', direction: 'received' }, value: l.responses },
        { labels: { lan: l.name, type: 'query', direction: 'multicast' }, value: l.queriesMulticast },
        { labels: { lan: l.name, type: 'response', direction: 'multicast' }, value: l.responsesMulticast },
      ])),
      counter('ssdp_proxy_mdns_peer_packets_total', 'mDNS frames exchanged with a peer, by peer, type and direction (sent, received).', m.peers.flatMap((p) => [
        { labels: { peer: p.address, type: 'query', direction: 'sent' }, value: p.queriesSent },
        { labels: { peer: p.address, type: 'query', direction: 'received' }, value: p.queriesReceived },
        { labels: { peer: p.address, type: 'response', direction: 'sent' }, value: p.responsesSent },
        { labels: { peer: p.address, type: 'response', direction: 'received' }, value: p.responsesReceived },
      ])),
      counter('ssdp_proxy_mdns_lan_dropped_total', 'mDNS packets not relayed and records removed from relayed ones, by LAN and reason.', m.lans.flatMap((l) => byReason(l.drops, { lan: l.name }))),
      counter('ssdp_proxy_mdns_peer_dropped_total', "mDNS packets from a peer not relayed and records removed, by peer and reason.", m.peers.flatMap((p) => byReason(p.drops, { peer: p.address }))),
      counter('ssdp_proxy_mdns_dropped_total', 'mDNS drops charged to no LAN or peer, by reason.', byReason(m.drops)),
      gauge('ssdp_proxy_mdns_hosts', 'Hosts that relayed services point to.', m.hosts),
      gauge('ssdp_proxy_mdns_local_names', 'Names in use on our LANs.', m.localNames),
    );
  }
  return out;
}
