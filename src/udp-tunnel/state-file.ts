// The tunnels, kept across restarts. Written atomically on every change; read
// once at start, each entry validated like a control message, so a hand-edited
// or damaged file cannot inject what the control port would refuse.
import fs from 'node:fs';
import { writeFileAtomic } from '../lib/atomic-file';
import { array, ConfigError, object } from '../lib/config';
import { existingTunnelName, tunnelSpec, type TunnelSpec } from './tunnel-spec';

export const STATE_VERSION = 1;

export function encodeState(tunnels: TunnelSpec[]): string {
  return JSON.stringify({ version: STATE_VERSION, tunnels }, null, 2) + '\n';
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

export function saveState(file: string, tunnels: TunnelSpec[]): void {
  writeFileAtomic(file, encodeState(tunnels), 0o600);
}
