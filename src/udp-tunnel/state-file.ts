// The tunnels, kept across restarts. Written atomically on every change; read
// once at start, each entry validated like a control message, so a hand-edited
// or damaged file cannot inject what the control port would refuse.
import fs from 'node:fs';
import { writeFileAtomic } from '../lib/atomic-file';
import { array, ConfigError, object } from '../lib/config';
import { existingTunnelName, tunnelSpec, type TunnelSpec } from './tunnel-spec';

export const STATE_VERSION = 1;

/**
 * `site`: this daemon's site (aead.ts), so keyed peers still know it after a restart;
 * `peers`: each keyed tunnel's peer's site as learned, so a peer that moved while this
 * daemon was down is still found.
 */
export function encodeState(tunnels: TunnelSpec[], site?: number, peers: Record<string, number> = {}): string {
  const known = Object.keys(peers).length ? { peers } : {};
  return JSON.stringify({ version: STATE_VERSION, ...(site !== undefined ? { site } : {}), tunnels, ...known }, null, 2) + '\n';
}

const isSite = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0 && v < 2 ** 32;

/** The peers' sites kept in the file, by tunnel name; bad entries left out. */
export function loadPeerSites(file: string): Record<string, number> {
  const out: Record<string, number> = {};
  try {
    const v = (JSON.parse(fs.readFileSync(file, 'utf8')) as { peers?: unknown }).peers;
    if (typeof v === 'object' && v !== null) for (const [name, site] of Object.entries(v)) if (isSite(site)) out[name] = site;
  } catch {
    // no file, or not JSON: loadState says so
  }
  return out;
}

/** The site kept in the file; undefined when the file, or the site in it, is missing or bad. */
export function loadSite(file: string): number | undefined {
  try {
    const v = (JSON.parse(fs.readFileSync(file, 'utf8')) as { site?: unknown }).site;
    return isSite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

export function decodeState(text: string): TunnelSpec[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new ConfigError('state', 'is not valid JSON');
  }
  const o = object(v, 'state');
  if (o.version !== STATE_VERSION) throw new ConfigError('state.version', `expected ${STATE_VERSION}`);
  // Written by an earlier version too: a name `add` no longer takes is still restored (and deletable).
  return array(o.tunnels, 'state.tunnels', (t, f) => tunnelSpec(t, f, existingTunnelName));
}

/** A missing file is an empty table. */
export function loadState(file: string): TunnelSpec[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return decodeState(text);
}

export function saveState(file: string, tunnels: TunnelSpec[], site?: number, peers?: Record<string, number>): void {
  writeFileAtomic(file, encodeState(tunnels, site, peers), 0o600);
}
