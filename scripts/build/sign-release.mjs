#!/usr/bin/env node
// Signs a release: DIR/SHA256SUMS.sig, a detached Ed25519 signature of
// DIR/SHA256SUMS (64 bytes, what `openssl pkeyutl -sign -rawin` makes and the
// installer checks with `openssl pkeyutl -verify -rawin`). The private key
// (PEM) comes from the environment, never from a file in the repository: the
// release workflow passes its secret as RELEASE_SIGNING_KEY. The signature is
// then checked against the public key the installer of DIR embeds, so a key
// that does not match the repository's scripts/build/release-key.pub is refused here,
// not on a gateway.
//
// Usage: RELEASE_SIGNING_KEY="$(cat key.pem)" node scripts/build/sign-release.mjs DIR
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

function main() {
  const dir = process.argv[2];
  if (!dir || process.argv.length > 3) throw new Error('usage: RELEASE_SIGNING_KEY=<PEM> node scripts/build/sign-release.mjs DIR');
  const pem = process.env.RELEASE_SIGNING_KEY ?? '';
  if (!pem.includes('PRIVATE KEY')) throw new Error('RELEASE_SIGNING_KEY holds no private key (PEM); the release workflow takes it from the secret of that name');
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`RELEASE_SIGNING_KEY is ${key.asymmetricKeyType}, not Ed25519`);

  const sums = fs.readFileSync(path.join(dir, 'SHA256SUMS'));
  const signature = sign(null, sums, key);
  // The key embedded in the installer: the lines between the PEM markers.
  const installer = fs.readFileSync(path.join(dir, 'install.sh'), 'utf8');
  const embedded = installer.match(/-----BEGIN PUBLIC KEY-----[^']*-----END PUBLIC KEY-----/)?.[0];
  if (!embedded) throw new Error(`${dir}/install.sh embeds no public key: scripts/build/release-key.pub is still the placeholder (docs/release.md)`);
  if (!verify(null, sums, createPublicKey(embedded), signature)) {
    throw new Error(`the signature does not verify with the public key in ${dir}/install.sh (scripts/build/release-key.pub): RELEASE_SIGNING_KEY is another key`);
  }
  fs.writeFileSync(path.join(dir, 'SHA256SUMS.sig'), signature);
  console.log(`signed   ${path.join(dir, 'SHA256SUMS')} -> SHA256SUMS.sig (Ed25519, checked against the installer's key)`);
}

try {
  main();
} catch (err) {
  console.error(`ERROR: signing failed: ${err.message}`);
  process.exit(1);
}
