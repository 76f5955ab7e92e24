// udp-tunnel's metrics: the counters `status` shows (status() is small here:
// one entry per tunnel). Label `tunnel` is the tun device's name (at most
// MAX_TUNNELS, 128); `reason` is one of the fixed drop reasons.
import { byReason, counter, gauge, type MetricFamily } from '../lib/metrics';
import type { UdpTunnel } from './daemon';

export function udpTunnelMetrics(d: UdpTunnel): MetricFamily[] {
  const s = d.status();
  const t = s.tunnels;
  const o = s.offloads;
  return [
    counter('udp_tunnel_packets_total', 'IP packets carried, by tunnel and direction (rx: from the remote into the tun device; tx: from the device to the remote).', t.flatMap((x) => [
      { labels: { tunnel: x.name, direction: 'rx' }, value: x.rxPackets },
      { labels: { tunnel: x.name, direction: 'tx' }, value: x.txPackets },
    ])),
    counter('udp_tunnel_bytes_total', 'Bytes of IP packets carried, by tunnel and direction.', t.flatMap((x) => [
      { labels: { tunnel: x.name, direction: 'rx' }, value: x.rxBytes },
      { labels: { tunnel: x.name, direction: 'tx' }, value: x.txBytes },
    ])),
    counter('udp_tunnel_dropped_total', 'Packets dropped, by tunnel and reason (forged, replayed, malformed, tun_full, send_failed, oversized).', t.flatMap((x) => byReason(x.drops as unknown as Record<string, number>, { tunnel: x.name }))),
    gauge('udp_tunnel_silent', '1 while the remote has been silent for 3 keepalives (keepalives on only).', t.map((x) => ({ labels: { tunnel: x.name }, value: x.silent ? 1 : 0 }))),
    gauge('udp_tunnel_last_receive_timestamp_seconds', 'When the last datagram that passed the checks came from the remote, since the Unix epoch (absent: never).', t.flatMap((x) => (x.lastRx === null ? [] : [{ labels: { tunnel: x.name }, value: x.lastRx / 1000 }]))),
    gauge('udp_tunnel_tunnels', 'Tunnels now.', t.length),
    counter('udp_tunnel_unknown_source_datagrams_total', 'Datagrams on the data port from an address with no tunnel.', s.unknownSource),
    counter('udp_tunnel_control_messages_total', 'Control messages, by result (accepted; refused: bad MAC, replayed, unsigned from off localhost; invalid: bad JSON or fields).', [
      { labels: { result: 'accepted' }, value: s.controlAccepted },
      { labels: { result: 'refused' }, value: s.controlRefused },
      { labels: { result: 'invalid' }, value: s.controlInvalid },
    ]),
    counter('udp_tunnel_gro_segments_total', 'TCP segments joined into super-packets before the tun device (GRO).', o.groJoined),
    counter('udp_tunnel_gro_packets_total', 'Super-packets written to the tun devices (GRO).', o.groSuperPackets),
    counter('udp_tunnel_tso_packets_total', 'Super-packets read from the tun devices and cut into segments (TSO).', o.tsoSuperPackets),
    counter('udp_tunnel_tso_segments_total', 'Segments cut from them (TSO).', o.tsoSegments),
    counter('udp_tunnel_gso_sends_total', 'sendmsg calls with UDP_SEGMENT (GSO).', o.gsoSends),
    counter('udp_tunnel_gso_datagrams_total', 'Datagrams those calls carried.', o.gsoDatagrams),
  ];
}
