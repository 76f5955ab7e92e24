#!/usr/bin/env node
// The notes of a release: its section of CHANGELOG.md. Run by the release
// workflow first of all, so a tag that does not match package.json's version,
// or has no section in CHANGELOG.md, fails before the hour of tests.
//
// Usage: node scripts/build/release-notes.mjs v0.2.0 > notes.md
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { releaseVersion, repositoryUrl } from './release-info.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function main() {
  const tag = process.argv[2] ?? '';
  if (!/^v/.test(tag)) throw new Error(`usage: node scripts/build/release-notes.mjs vX.Y.Z (got ${JSON.stringify(tag)})`);
  const version = releaseVersion(root, tag);
  const own = releaseVersion(root);
  if (version !== own) throw new Error(`tag ${tag} but package.json says ${own}: set "version": "${version}" in package.json and tag that commit`);
  const lines = fs.readFileSync(path.join(root, 'CHANGELOG.md'), 'utf8').split('\n');
  const start = lines.findIndex((l) => l.startsWith(`## [${version}]`));
  if (start < 0) throw new Error(`CHANGELOG.md has no section "## [${version}] - YYYY-MM-DD"; move the [Unreleased] items there`);
  const end = lines.findIndex((l, i) => i > start && /^## \[/.test(l));
  const body = lines.slice(start + 1, end < 0 ? undefined : end).join('\n').trim();
  if (!body) throw new Error(`CHANGELOG.md's section for ${version} is empty`);
  const repo = repositoryUrl(root);
  process.stdout.write(
    `${body}\n\n` +
      `Install or upgrade on the gateway: \`curl -fsSL ${repo}/releases/download/${tag}/install.sh | sh -s -- <proxy> <arguments>\`. ` +
      `Every asset is in SHA256SUMS, signed in SHA256SUMS.sig; README.md says how to check them and how to rebuild this release bit for bit.\n`,
  );
}

try {
  main();
} catch (err) {
  console.error(`ERROR: ${err.message}`);
  process.exit(1);
}
