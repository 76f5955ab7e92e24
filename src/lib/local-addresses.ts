// Every IPv6 address configured on this host, from /proc/net/if_inet6. Unlike
// os.networkInterfaces() it lists interfaces without carrier too, so a
// bridge whose ports are still down is not mistaken for a stranger.
import * as fs from 'node:fs';
import { formatIPv6 } from './ip';

/** Parses /proc/net/if_inet6: "20010db8000000000000000000000001 02 40 00 80 eth0" per line. */
export function parseIfInet6(text: string): Set<string> {
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const hex = line.slice(0, 32);
    if (!/^[0-9a-f]{32}$/.test(hex)) continue;
    const bytes = new Uint8Array(16);
    for (let i = 0; i < 16; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
    out.add(formatIPv6(bytes));
  }
  return out;
}

export function readLocalIPv6Addresses(): Set<string> {
  try {
    return parseIfInet6(fs.readFileSync('/proc/net/if_inet6', 'utf8'));
  } catch {
    return new Set(); // no IPv6 in this kernel: nothing of ours to skip
  }
}
