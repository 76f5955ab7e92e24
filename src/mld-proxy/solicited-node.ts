// Solicited-node multicast groups (RFC 4291 s2.7.1): ff02::1:ff00:0/104 plus the low 24
// bits of a unicast address. A neighbour solicitation for an address goes to this group, so
// the WAN side must be a member of it for an MLD-snooping switch to deliver the NS to us.

import { formatIPv6, parseIPv6 } from '../lib/ip';

const PREFIX = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff]; // first 104 bits

export function solicitedNodeGroup(address: Uint8Array): Uint8Array {
  if (address.length !== 16) throw new Error(`IPv6 address must be 16 bytes, got ${address.length}`);
  const group = new Uint8Array(16);
  group.set(PREFIX, 0);
  group[13] = address[13];
  group[14] = address[14];
  group[15] = address[15];
  return group;
}

/** Text in, canonical text out: "2001:db8::1234:5678" -> "ff02::1:ff34:5678". */
export function solicitedNodeGroupText(address: string): string {
  return formatIPv6(solicitedNodeGroup(parseIPv6(address)));
}

/** True for any address in ff02::1:ff00:0/104. */
export function isSolicitedNodeGroup(address: Uint8Array): boolean {
  if (address.length !== 16) return false;
  for (let i = 0; i < 13; i++) if (address[i] !== PREFIX[i]) return false;
  return true;
}
