// One shared secret (--key-file) gives two independent keys: one for control
// message HMACs, one for the data plane's AEAD, so neither use can be turned
// against the other.
import { hkdfSync } from 'node:crypto';
import { InputError } from '../lib/input-error';

export interface TunnelKeys {
  control: Buffer;
  data: Buffer;
}

export const MIN_SECRET_BYTES = 16;

/** The key file's text, trimmed: any secret of 16 bytes or more (e.g. `head -c 32 /dev/urandom | base64`). */
export function deriveKeys(secretText: string): TunnelKeys {
  const secret = Buffer.from(secretText.trim(), 'utf8');
  if (secret.length < MIN_SECRET_BYTES) throw new InputError(`the key must be at least ${MIN_SECRET_BYTES} bytes (try: head -c 32 /dev/urandom | base64 > FILE)`);
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', secret, 'udp-tunnel v1', info, 32));
  return { control: derive('control hmac'), data: derive('data aead') };
}
