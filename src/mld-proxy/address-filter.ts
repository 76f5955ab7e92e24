// Which addresses seen on the LAN deserve a solicited-node join on the WAN: only unicast
// addresses inside the prefixes the WAN shares with the LAN (the upstream's global prefixes
// in a "SLAAC + Single Network" setup). Anything else is never solicited from the WAN side.

import { cidrContains, isIPv4Mapped, parseCidr, type Cidr } from '../lib/ip';

export type AddressVerdict =
  | 'ok'
  | 'unspecified' // ::
  | 'loopback' // ::1
  | 'ipv4-mapped' // ::ffff:0:0/96, never on the wire (RFC 4291 s2.5.5.2)
  | 'multicast' // ff00::/8
  | 'link-local' // fe80::/10: the WAN gateway solicits it on its own link only
  | 'no-prefix' // no prefix known yet
  | 'outside-prefix';

export type AddressFilter = (address: Uint8Array) => AddressVerdict;

/**
 * With no prefixes the filter accepts nothing ('no-prefix') instead of every global unicast
 * address: until the upstream has a global prefix we cannot tell whose addresses the WAN
 * gateway will solicit, and guessing 2000::/3 would join groups for any routed LAN subnet.
 * The daemon builds a new filter when it learns the upstream prefixes, and addresses seen
 * meanwhile are caught again by their next NS/NA or by the neighbour-table sweep.
 */
export function createAddressFilter(prefixes: readonly (Cidr | string)[]): AddressFilter {
  const nets: Cidr[] = prefixes.map((p) => (typeof p === 'string' ? parseCidr(p) : p));
  for (const n of nets) {
    if (n.family !== 6) throw new Error(`prefix ${n.bytes.join('.')}/${n.prefixLength} is IPv4; mld-proxy needs IPv6 prefixes`);
  }
  return (address) => {
    if (address.length !== 16) throw new Error(`IPv6 address must be 16 bytes, got ${address.length}`);
    if (address[0] === 0xff) return 'multicast';
    if (address[0] === 0xfe && (address[1] & 0xc0) === 0x80) return 'link-local';
    if (address[0] === 0) {
      let zero = true;
      for (let i = 1; i < 15; i++) if (address[i] !== 0) zero = false;
      if (zero && address[15] === 0) return 'unspecified';
      if (zero && address[15] === 1) return 'loopback';
      if (isIPv4Mapped(address)) return 'ipv4-mapped';
    }
    if (nets.length === 0) return 'no-prefix';
    for (let i = 0; i < nets.length; i++) if (cidrContains(nets[i], address)) return 'ok';
    return 'outside-prefix';
  };
}
