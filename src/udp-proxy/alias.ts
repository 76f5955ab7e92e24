// Which source addresses may answer a session (the original's reply-addr-alias).
import { sockAddr } from '../lib/sockaddr';
import { clientKey } from './session-table';
import type { Endpoint } from './endpoint';

/**
 * Who may answer a session: the upstream itself, or one of the aliases. Takes
 * the source as IPv6 words (IPv4 mapped) and port; returns 0 for the upstream,
 * i + 1 for aliases[i], -1 for anyone else. An alias without a port matches
 * every port of its address; one with a port is preferred.
 */
export type ReplyMatcher = (w0: number, w1: number, w2: number, w3: number, port: number) => number;

interface Known {
  w0: number;
  w1: number;
  w2: number;
  w3: number;
  /** port -> index, with port 0 standing for "any port" */
  ports: Map<number, number>;
}

export function createReplyMatcher(upstream: Endpoint, aliases: Endpoint[]): ReplyMatcher {
  const byKey = new Map<number, Known[]>();
  const add = (e: Endpoint, index: number) => {
    const a = sockAddr(e.address, 0);
    const key = clientKey(a.w0, a.w1, a.w2, a.w3);
    let list = byKey.get(key);
    if (!list) byKey.set(key, (list = []));
    let k = list.find((x) => x.w0 === a.w0 && x.w1 === a.w1 && x.w2 === a.w2 && x.w3 === a.w3);
    if (!k) list.push((k = { w0: a.w0, w1: a.w1, w2: a.w2, w3: a.w3, ports: new Map() }));
    const port = e.port ?? 0;
    if (!k.ports.has(port)) k.ports.set(port, index);
  };
  add(upstream, 0);
  aliases.forEach((a, i) => add(a, i + 1));
  return (w0, w1, w2, w3, port) => {
    const list = byKey.get(clientKey(w0, w1, w2, w3));
    if (list === undefined) return -1;
    for (let i = 0; i < list.length; i++) {
      const k = list[i];
      if (k.w3 !== w3 || k.w2 !== w2 || k.w1 !== w1 || k.w0 !== w0) continue;
      return k.ports.get(port) ?? k.ports.get(0) ?? -1;
    }
    return -1;
  };
}
