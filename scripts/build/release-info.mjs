// What a build says about itself: the release version, the repository (from
// package.json alone, so a fork changes one line), and the fields of the
// installer: scripts/gateway/install.sh has one line `NAME=''` for each, empty in the
// repository, filled in the copy that ships.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** SemVer without the tag's "v" (1.2.3, 1.2.3-rc.1); default: package.json's version. */
export function releaseVersion(root, given) {
  const v = String(given ?? JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version).replace(/^v/, '');
  if (!/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(v)) throw new Error(`version ${JSON.stringify(given)} is not SemVer (1.2.3 or v1.2.3)`);
  return v;
}

/** package.json's `repository`, as https://host/owner/name (no git+, no .git). */
export function repositoryUrl(root) {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const raw = typeof pkg.repository === 'string' ? pkg.repository : pkg.repository?.url;
  const url = String(raw ?? '').replace(/^git\+/, '').replace(/\.git$/, '').replace(/\/+$/, '');
  if (!/^https:\/\/[A-Za-z0-9.-]+\/[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(url)) {
    throw new Error(`package.json "repository" must be https://host/owner/name, got ${JSON.stringify(raw)}`);
  }
  return url;
}

/**
 * Fills the installer's fields: each `NAME=''` line becomes `NAME='value'`.
 * Values go between single quotes in sh, so they may hold newlines but no quote.
 */
export function stampInstaller(text, fields) {
  let out = text;
  for (const [name, value] of Object.entries(fields)) {
    if (value.includes("'")) throw new Error(`install.sh field ${name} cannot hold a single quote`);
    const line = new RegExp(`^${name}=''$`, 'm');
    const count = (out.match(new RegExp(line.source, 'gm')) ?? []).length;
    if (count !== 1) throw new Error(`scripts/gateway/install.sh must have exactly one line ${name}='' (found ${count})`);
    out = out.replace(line, () => `${name}='${value}'`);
  }
  return out;
}
