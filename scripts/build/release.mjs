#!/usr/bin/env node
// `make release`: builds, then writes a release's download folder, exactly what
// a web server (or a GitHub release) serves:
//   <proxy>-linux-arm64.gz, <proxy>-linux-x64.gz   the executables, gzip -9n
//   install.sh        the installer, carrying this release's version, the
//                     SHA-256 of every asset below and the signing public key
//   udm-proxies, 10-proxy.sh.in                    what the installer installs
//   SHA256SUMS        over every file above (SHA256SUMS.sig: scripts/build/sign-release.mjs)
//
// Why gzip and not xz (measured on mld-proxy-linux-arm64, 104.5 MB): gzip -9
// gives 39.7 MB (38.0 %), xz -6 26.0 MB (24.9 %); but gzip is on every UniFi
// OS (BusyBox has it), unpacks in 1.2 s with 1.7 MB of memory where xz needs
// 3.0 s and 10 MB (-6) or 67 MB (-9), and GNU gzip -n writes no name or time,
// so the same executable gives the same .gz on any machine with the same gzip.
//
// Usage: node scripts/build/release.mjs [--version X.Y.Z] [--out DIR] [--build DIR]
//          [--public-key FILE] [--target linux-x64|linux-arm64]... [proxy...]
// Defaults: package.json's version, dist/release, dist, scripts/build/release-key.pub.
import { execFileSync, spawn } from 'node:child_process';
import { createHash, createPublicKey } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { releaseVersion, repositoryUrl, stampInstaller } from './release-info.mjs';
import { TARGETS } from './pinned.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MiB = 1048576;

function parseArgs(argv) {
  const opts = {
    version: undefined,
    out: path.join(root, 'dist/release'),
    build: path.join(root, 'dist'),
    publicKey: path.join(root, 'scripts/build/release-key.pub'),
    targets: [],
    proxies: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--version') opts.version = argv[++i];
    else if (a === '--out') opts.out = path.resolve(argv[++i]);
    else if (a === '--build') opts.build = path.resolve(argv[++i]);
    else if (a === '--public-key') opts.publicKey = path.resolve(argv[++i]);
    else if (a === '--target') opts.targets.push(argv[++i]);
    else if (a.startsWith('-')) throw new Error(`unknown option ${a}`);
    else opts.proxies.push(a);
  }
  return opts;
}

const sha256 = (file) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

// The public key the installer embeds, or '' while scripts/build/release-key.pub is
// the placeholder (the installer then says it cannot check a signature).
function publicKeyPem(file) {
  const text = fs.readFileSync(file, 'utf8');
  if (!text.includes('-----BEGIN PUBLIC KEY-----')) {
    console.log(`release  WARNING: ${path.relative(root, file)} holds no public key yet; the installer will say it cannot verify signatures (docs/release.md)`);
    return '';
  }
  const key = createPublicKey(text);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${file}: an Ed25519 public key is needed, found ${key.asymmetricKeyType}`);
  return key.export({ type: 'spki', format: 'pem' }).toString().trim();
}

// gzip -9n, as many at once as there are cores: each takes about 14 s.
async function compressAll(jobs) {
  const queue = [...jobs];
  const worker = async () => {
    for (let job = queue.shift(); job; job = queue.shift()) {
      const { src, dest } = job;
      const fd = fs.openSync(dest + '.tmp', 'w');
      await new Promise((resolve, reject) => {
        const child = spawn('gzip', ['-9', '-n', '-c', src], { stdio: ['ignore', fd, 'inherit'] });
        child.on('error', reject);
        child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`gzip -9 -n ${src} exited ${code}`))));
      }).finally(() => fs.closeSync(fd));
      fs.renameSync(dest + '.tmp', dest);
    }
  };
  const n = Math.min(jobs.length, os.availableParallelism?.() ?? os.cpus().length);
  await Promise.all(Array.from({ length: n }, worker));
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const version = releaseVersion(root, opts.version);
  const buildArgs = ['--out', opts.build, '--version', version, ...opts.targets.flatMap((t) => ['--target', t]), ...opts.proxies];
  execFileSync(process.execPath, [path.join(root, 'scripts/build/build.mjs'), ...buildArgs], { stdio: 'inherit' });

  const proxies = opts.proxies.length
    ? opts.proxies
    : fs.readdirSync(path.join(root, 'src/bin')).filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3)).sort();
  const targets = opts.targets.length ? opts.targets : TARGETS.map((t) => t.name);
  const executables = proxies.flatMap((p) => targets.map((t) => `${p}-${t}`));

  fs.rmSync(opts.out, { recursive: true, force: true });
  fs.mkdirSync(opts.out, { recursive: true });
  await compressAll(executables.map((e) => ({ src: path.join(opts.build, e), dest: path.join(opts.out, `${e}.gz`) })));
  for (const f of ['udm-proxies', '10-proxy.sh.in']) fs.copyFileSync(path.join(opts.build, f), path.join(opts.out, f));

  // The installer carries the checksums of the files it fetches, so an
  // installer and the executables of its release are bound together.
  const assets = [...executables.map((e) => `${e}.gz`), 'udm-proxies', '10-proxy.sh.in'].sort();
  const sums = assets.map((a) => `${sha256(path.join(opts.out, a))}  ${a}`).join('\n');
  const installer = stampInstaller(fs.readFileSync(path.join(root, 'scripts/gateway/install.sh'), 'utf8'), {
    REPO_URL: repositoryUrl(root),
    RELEASE: `v${version}`,
    RELEASE_SUMS: sums,
    RELEASE_KEY: publicKeyPem(opts.publicKey),
  });
  fs.writeFileSync(path.join(opts.out, 'install.sh'), installer);
  for (const f of fs.readdirSync(opts.out)) fs.chmodSync(path.join(opts.out, f), f.endsWith('.gz') ? 0o644 : 0o755);

  const all = fs.readdirSync(opts.out).sort();
  fs.writeFileSync(path.join(opts.out, 'SHA256SUMS'), all.map((f) => `${sha256(path.join(opts.out, f))}  ${f}`).join('\n') + '\n');

  const shown = path.relative(process.cwd(), opts.out).startsWith('..') ? opts.out : path.relative(process.cwd(), opts.out);
  for (const e of executables) {
    const raw = fs.statSync(path.join(opts.build, e)).size;
    const gz = fs.statSync(path.join(opts.out, `${e}.gz`)).size;
    console.log(`release  ${shown}/${e}.gz ${(gz / MiB).toFixed(1)} MiB (${((100 * gz) / raw).toFixed(1)} % of ${(raw / MiB).toFixed(1)} MiB)`);
  }
  console.log(`release  v${version} in ${shown}/: ${all.length + 1} files with SHA256SUMS`);
}

main().catch((err) => {
  console.error(`ERROR: release failed: ${err.message}`);
  process.exit(1);
});
