// The state file carries learned addresses across a restart, so the WAN joins come back at
// once instead of waiting for each host's next NS/NA (which can be many minutes for a quiet
// host, long enough for the WAN gateway to drop its neighbour entry).
// Format: {"version":1,"savedAt":<ms epoch>,"entries":[{"address","interface","lastSeen"}]}.
// decodeStateFile checks every field and throws a message naming it; the caller logs that
// and starts empty, because a bad state file must never keep the daemon from starting.

import { InputError } from '../lib/input-error';
import { formatIPv6, parseIPv6 } from '../lib/ip';

export const STATE_FILE_VERSION = 1;

export interface StateEntry {
  /** RFC 5952 canonical text. */
  address: string;
  interface: string;
  /** ms since the epoch. */
  lastSeen: number;
}

export interface StateFile {
  version: 1;
  savedAt: number;
  entries: StateEntry[];
}

export function encodeStateFile(entries: readonly StateEntry[], savedAt: number): string {
  const file: StateFile = {
    version: STATE_FILE_VERSION,
    savedAt,
    entries: entries.map((e) => ({ address: e.address, interface: e.interface, lastSeen: e.lastSeen })),
  };
  return JSON.stringify(file, null, 2) + '\n';
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v.length > 64 ? v.slice(0, 64) + '...' : v);
  if (typeof v === 'number') return String(v);
  return typeof v;
}

function timestamp(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new InputError(`state file ${field}: must be a non-negative integer (ms since the epoch), got ${describe(v)}`);
  }
  return v;
}

/** Linux dev_valid_name(): 1..15 bytes, not "." or "..", no "/", ":" or whitespace. */
function interfaceName(v: unknown, field: string): string {
  if (typeof v !== 'string') throw new InputError(`state file ${field}: must be an interface name string, got ${describe(v)}`);
  if (v.length === 0 || Buffer.byteLength(v) > 15) throw new InputError(`state file ${field}: interface name must be 1 to 15 bytes, got ${describe(v)}`);
  if (v === '.' || v === '..' || /[/:\s]/.test(v)) throw new InputError(`state file ${field}: ${describe(v)} is not a valid interface name`);
  return v;
}

export function decodeStateFile(text: string): StateFile {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new InputError(`state file is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(doc)) throw new InputError(`state file must hold a JSON object, got ${describe(doc)}`);
  if (doc.version !== STATE_FILE_VERSION) throw new InputError(`state file version: expected ${STATE_FILE_VERSION}, got ${describe(doc.version)}`);
  const savedAt = timestamp(doc.savedAt, 'savedAt');
  if (!Array.isArray(doc.entries)) throw new InputError(`state file entries: must be an array, got ${describe(doc.entries)}`);
  const entries: StateEntry[] = doc.entries.map((e: unknown, i: number) => {
    const at = `entries[${i}]`;
    if (!isObject(e)) throw new InputError(`state file ${at}: must be an object, got ${describe(e)}`);
    if (typeof e.address !== 'string') throw new InputError(`state file ${at}.address: must be an IPv6 address string, got ${describe(e.address)}`);
    let address: string;
    try {
      address = formatIPv6(parseIPv6(e.address));
    } catch (err) {
      throw new InputError(`state file ${at}.address: ${(err as Error).message}`);
    }
    return { address, interface: interfaceName(e.interface, `${at}.interface`), lastSeen: timestamp(e.lastSeen, `${at}.lastSeen`) };
  });
  return { version: STATE_FILE_VERSION, savedAt, entries };
}
