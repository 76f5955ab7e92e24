// What `ssdp-proxy status` shows: counters per LAN, per peer, and drops that
// belong to neither.

export interface LanCounters {
  searches: number;
  notifies: number;
  repliesRouted: number;
  searchesMulticast: number;
  notifiesMulticast: number;
  repliesRelayed: number;
  malformed: number;
  /** Searches and NOTIFYs an ST/NT filter kept from crossing. */
  filtered: number;
}

export interface PeerCounters {
  searchesSent: number;
  searchesReceived: number;
  repliesSent: number;
  repliesReceived: number;
  notifiesSent: number;
  notifiesReceived: number;
  drops: Record<string, number>;
}

/** mDNS on one LAN: what we took from it for the peers, what we multicast on it from them. */
export interface MdnsLanCounters {
  queries: number;
  responses: number;
  queriesMulticast: number;
  responsesMulticast: number;
  /** Packets not relayed, and records removed from relayed ones, by reason. */
  drops: Record<string, number>;
}

/** mDNS with one peer: frames each way; packets dropped and records removed, by reason. */
export interface MdnsPeerCounters {
  queriesSent: number;
  queriesReceived: number;
  responsesSent: number;
  responsesReceived: number;
  drops: Record<string, number>;
}

export interface MdnsStatus {
  services: string[];
  rate: number;
  /** The LAN sockets are bound (port 5353 shared). */
  listening: boolean;
  /** Names in use on our LANs; hosts that relayed services point to. */
  localNames: number;
  hosts: number;
  lans: ({ name: string } & MdnsLanCounters)[];
  peers: ({ address: string } & MdnsPeerCounters)[];
  /** Drops charged to no LAN or peer. */
  drops: Record<string, number>;
}

export interface SsdpProxyStatus {
  startedAt: number;
  now: number;
  hub: boolean;
  port: number;
  pendingSearches: number;
  remoteSearches: number;
  maxPending: number;
  maxPendingPerHost: number;
  lans: ({ name: string; present: boolean; addresses: string[]; ipv6: boolean } & LanCounters)[];
  peers: ({ address: string } & PeerCounters)[];
  /** Drops not charged to a configured peer or LAN. */
  drops: Record<string, number>;
  /** Present when mDNS is relayed. */
  mdns?: MdnsStatus;
}

export const newLanCounters = (): LanCounters => ({
  searches: 0,
  notifies: 0,
  repliesRouted: 0,
  searchesMulticast: 0,
  notifiesMulticast: 0,
  repliesRelayed: 0,
  malformed: 0,
  filtered: 0,
});

export const newPeerCounters = (): PeerCounters => ({
  searchesSent: 0,
  searchesReceived: 0,
  repliesSent: 0,
  repliesReceived: 0,
  notifiesSent: 0,
  notifiesReceived: 0,
  drops: {},
});

export const bump = (drops: Record<string, number>, reason: string): void => void (drops[reason] = (drops[reason] ?? 0) + 1);

export const newMdnsLanCounters = (): MdnsLanCounters => ({ queries: 0, responses: 0, queriesMulticast: 0, responsesMulticast: 0, drops: {} });

export const newMdnsPeerCounters = (): MdnsPeerCounters => ({ queriesSent: 0, queriesReceived: 0, responsesSent: 0, responsesReceived: 0, drops: {} });
