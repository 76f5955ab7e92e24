// Which source addresses may answer a session (the original's reply-addr-alias).
import type { Endpoint } from './endpoint';

/**
 * Who may answer a session: the upstream itself, or one of the aliases. Returns
 * 0 for the upstream, i + 1 for aliases[i], -1 for anyone else. An alias without
 * a port matches every port of its address; one with a port is preferred.
 */
export type ReplyMatcher = (address: string, port: number) => number;

export function createReplyMatcher(upstream: Endpoint, aliases: Endpoint[]): ReplyMatcher {
  const upAddress = upstream.address;
  const upPort = upstream.port;
  // address -> port -> index, with port 0 standing for "any port"
  const byAddress = new Map<string, Map<number, number>>();
  aliases.forEach((a, i) => {
    let ports = byAddress.get(a.address);
    if (!ports) byAddress.set(a.address, (ports = new Map()));
    const key = a.port ?? 0;
    if (!ports.has(key)) ports.set(key, i + 1);
  });
  return (address, port) => {
    if (port === upPort && address === upAddress) return 0;
    const ports = byAddress.get(address);
    if (ports === undefined) return -1;
    return ports.get(port) ?? ports.get(0) ?? -1;
  };
}
