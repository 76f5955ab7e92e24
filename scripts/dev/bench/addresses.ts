// The addresses and groups the bench works with, shared by its helpers so the
// injector, the baseline joiner and the capture agree on them.
//
// Address i of a set is the /64 prefix plus 0x00<base + i> in the low 32 bits,
// so its solicited-node group (low 24 bits) is unique per i and never collides
// with the lab's own interfaces (their groups end in ff00:9 / ff00:ffff).
import * as fs from 'node:fs';
import { parseIPv6 } from '../../../src/lib/ip';

/** mld-proxy's learned addresses: groups ff02::1:ff10:0001 and up. */
export const PROXY_BASE = 0x100000;
/** The baseline joiner's groups: ff02::1:ffe0:0001 and up, never learned by the proxy. */
export const BASELINE_BASE = 0xe00000;

export function benchAddress(prefix: Uint8Array, base: number, i: number): Uint8Array {
  const a = new Uint8Array(16);
  a.set(prefix.subarray(0, 8), 0);
  const v = base + i;
  if (i < 0 || v > 0xffffff) throw new Error(`address index ${i} does not fit in 24 bits above 0x${base.toString(16)}`);
  a[13] = (v >> 16) & 0xff;
  a[14] = (v >> 8) & 0xff;
  a[15] = v & 0xff;
  return a;
}

export function parsePrefix64(text: string): Uint8Array {
  const [addr, len] = text.split('/');
  if (len !== undefined && len !== '64') throw new Error(`prefix ${text} must be a /64`);
  return parseIPv6(addr);
}

/** Interface index inside the current network namespace (ip netns exec remounts /sys). */
export function ifindexOf(name: string): number {
  try {
    return Number(fs.readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8').trim());
  } catch {
    throw new Error(`no interface ${name} in this network namespace`);
  }
}

/** Monotonic clock (CLOCK_MONOTONIC), comparable between processes on one host. */
export function monotonicNs(): bigint {
  return process.hrtime.bigint();
}
