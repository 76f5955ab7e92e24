// Parse `ip -j -6 neigh show dev <if>` (iproute2 JSON). The daemon sweeps the LAN neighbour
// table as a second source of life, for hosts that talk to the gateway without any NS/NA
// crossing our capture for a long time.
//
// Only REACHABLE, DELAY and PROBE count as alive: each means the kernel has had
// confirmation from the host recently or is busy getting it (RFC 4861 s7.3.2). STALE is NOT
// a sign of life: Linux keeps STALE entries indefinitely (until memory pressure or gc_stale
// eviction of unused ones), so refreshing on them would never let a departed host go.

import { InputError } from '../lib/input-error';
import { formatIPv6, parseIPv6 } from '../lib/ip';

export interface NeighbourEntry {
  /** RFC 5952 canonical text. */
  address: string;
  bytes: Uint8Array;
  /** iproute2 state flags joined by "|", e.g. "REACHABLE"; "NONE" when ip printed none. */
  state: string;
  alive: boolean;
}

const ALIVE_STATES = new Set(['REACHABLE', 'DELAY', 'PROBE']);

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v.length > 64 ? v.slice(0, 64) + '...' : v);
  return typeof v;
}

export function parseNeighbourJson(text: string): NeighbourEntry[] {
  // Some iproute2 builds print nothing at all for an empty table.
  if (text.trim() === '') return [];
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new InputError(`neighbour table is not valid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(doc)) throw new InputError(`neighbour table must be a JSON array, got ${describe(doc)}`);
  return doc.map((n: unknown, i: number): NeighbourEntry => {
    if (typeof n !== 'object' || n === null || Array.isArray(n)) throw new InputError(`neighbour table [${i}]: must be an object, got ${describe(n)}`);
    const o = n as Record<string, unknown>;
    if (typeof o.dst !== 'string') throw new InputError(`neighbour table [${i}].dst: must be an IPv6 address string, got ${describe(o.dst)}`);
    let bytes: Uint8Array;
    try {
      bytes = parseIPv6(o.dst);
    } catch (err) {
      throw new InputError(`neighbour table [${i}].dst: ${(err as Error).message}`);
    }
    // iproute2 omits "state" for NUD_NONE and prints one string per flag otherwise.
    let flags: string[] = [];
    if (o.state !== undefined) {
      if (!Array.isArray(o.state) || o.state.some((s) => typeof s !== 'string' || !/^[A-Z_]+$/.test(s))) {
        throw new InputError(`neighbour table [${i}].state: must be an array of state names like ["REACHABLE"], got ${describe(o.state)}`);
      }
      flags = o.state as string[];
    }
    return {
      address: formatIPv6(bytes),
      bytes,
      state: flags.length === 0 ? 'NONE' : flags.join('|'),
      alive: flags.some((s) => ALIVE_STATES.has(s)),
    };
  });
}

/** Addresses of the entries that show life (REACHABLE, DELAY, PROBE). */
export function aliveAddresses(entries: readonly NeighbourEntry[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const e of entries) if (e.alive) out.push(e.bytes);
  return out;
}
