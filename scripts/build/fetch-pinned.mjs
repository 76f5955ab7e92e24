// Fetches one pinned npm tarball with `npm pack` (so the registry and proxy
// settings of the machine's npm apply), checks its sha512 integrity, and
// extracts one file from it. Everything is cached under .cache/, so a rebuild
// does not fetch again; a cached file is re-verified before use.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PINNED } from './pinned.mjs';

function integrityOf(file) {
  return 'sha512-' + createHash('sha512').update(fs.readFileSync(file)).digest('base64');
}

function tarballName(pkg, version) {
  return `${pkg.replace(/^@/, '').replace('/', '-')}-${version}.tgz`;
}

/** Returns the path of the extracted file for a pinned package. */
export function fetchPinned(pkg, cacheDir) {
  const pin = PINNED[pkg];
  if (!pin) throw new Error(`no pin for ${pkg}`);
  const dir = path.join(cacheDir, 'pinned');
  fs.mkdirSync(dir, { recursive: true });
  const tgz = path.join(dir, tarballName(pkg, pin.version));
  if (!fs.existsSync(tgz)) {
    console.log(`fetching ${pkg}@${pin.version} from the npm registry`);
    execFileSync('npm', ['pack', `${pkg}@${pin.version}`, '--pack-destination', dir, '--silent'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
  const got = integrityOf(tgz);
  if (got !== pin.integrity) {
    fs.renameSync(tgz, tgz + '.rejected');
    throw new Error(
      `${pkg}@${pin.version}: integrity mismatch (expected ${pin.integrity}, got ${got}); ` +
        `the tarball was moved to ${tgz}.rejected. If the pin in scripts/build/pinned.mjs is right, ` +
        `something between you and the registry changed the file.`,
    );
  }
  const outDir = path.join(dir, path.basename(tgz, '.tgz'));
  const out = path.join(outDir, pin.file);
  const stamp = path.join(outDir, '.verified');
  if (!fs.existsSync(stamp) || fs.readFileSync(stamp, 'utf8') !== pin.integrity) {
    fs.rmSync(outDir, { recursive: true, force: true });
    fs.mkdirSync(outDir, { recursive: true });
    execFileSync('tar', ['-xzf', tgz, '-C', outDir, pin.file]);
    fs.writeFileSync(stamp, pin.integrity);
  }
  return out;
}
