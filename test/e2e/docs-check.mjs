// test/e2e/docs-check.mjs - docs that cannot rot (issue 23), run by docs.test.sh:
//   - every option a proxy's --help lists is named in docs/<proxy>.md;
//   - every option in the first column of an option table of docs/<proxy>.md exists;
//   - every command line of a proxy in a fenced sh block of README.md or docs/*.md goes
//     through the built executable's option parser (the line with --help added: the
//     parser refuses an unknown option or a bad value before it prints the help);
//   - every `udm-proxies` command in those blocks is one the management script knows,
//     run against an empty fake root (nothing installed: it changes nothing).
// Prints "ok - ..." / "not ok - ..." lines; docs.test.sh counts them.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const PROXIES = ['mld-proxy', 'ssdp-proxy', 'udp-proxy', 'udp-tunnel'];
const IGNORED = new Set(['-h', '--help', '-v', '--version']);
let failed = 0;
const ok = (cond, what, detail = '') => {
  console.log(`${cond ? 'ok' : 'not ok'} - ${what}`);
  if (!cond) {
    failed++;
    if (detail) console.log(detail.replace(/^/gm, '#   '));
  }
};

const docFiles = ['README.md', ...fs.readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const read = (f) => fs.readFileSync(path.join(root, f), 'utf8');
const exe = (p) => path.join(root, 'dist', `${p}-linux-${os.arch() === 'arm64' ? 'arm64' : 'x64'}`);

/** Options of a --help text: the first column of each line that starts with an option. */
export function helpOptions(help) {
  const out = new Set();
  for (const line of help.split('\n')) {
    if (!/^\s{2,}-/.test(line)) continue;
    const head = line.trim().split(/\s{2,}/)[0];
    for (const m of head.matchAll(/(?:^|[\s,])(--?[a-z][a-z0-9-]*)/g)) out.add(m[1]);
  }
  return out;
}

/** Fenced ```sh blocks: their lines, comments and continuations joined. */
function shLines(text) {
  const out = [];
  for (const m of text.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const joined = m[1].replace(/\\\n\s*/g, ' ');
    for (let line of joined.split('\n')) {
      line = line.replace(/\s+#.*$/, '').trim();
      if (line) out.push(line);
    }
  }
  return out;
}

// Shell-like words: '...' and "..." quoted, no expansion.
function words(line) {
  return [...line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]);
}

for (const p of PROXIES) {
  const help = execFileSync(exe(p), ['--help'], { encoding: 'utf8' });
  const page = read(`docs/${p}.md`);
  const inPage = new Set([...page.matchAll(/(?<![\w-])(--?[a-z][a-z0-9-]*)/g)].map((m) => m[1]));
  const opts = [...helpOptions(help)].filter((o) => !IGNORED.has(o));
  const undocumented = opts.filter((o) => !inPage.has(o));
  ok(undocumented.length === 0, `${p}: every option of --help is in docs/${p}.md (${opts.length} options)`, `not documented: ${undocumented.join(' ')}`);
  const tabled = [];
  for (const line of page.split('\n')) {
    const first = /^\|\s*(`-[^|]*)\|/.exec(line);
    if (first) for (const m of first[1].matchAll(/`(--?[a-z][a-z0-9-]*)/g)) tabled.push(m[1]);
  }
  const known = helpOptions(help);
  const unknown = tabled.filter((o) => !known.has(o) && !IGNORED.has(o));
  ok(tabled.length > 0 && unknown.length === 0, `${p}: every option in the tables of docs/${p}.md exists (${tabled.length} named)`, `not in --help: ${unknown.join(' ')}`);
}

// Command lines of the proxies in the docs' sh blocks, through the option parser.
let lines = 0;
for (const f of docFiles) {
  for (const line of shLines(read(f))) {
    let w = words(line);
    // A line that installs a proxy (curl ... | sh -s -- PROXY ARGS) passes ARGS to the proxy.
    const install = w.indexOf('--');
    if (install > 0 && w[install - 1] === '-s') w = w.slice(install + 1);
    if (!PROXIES.includes(path.basename(w[0] ?? '')) || /[<[]|\.\.\./.test(line) || w.includes('|') || w.includes('&&')) continue;
    const p = path.basename(w[0]);
    const args = w.slice(1).filter((x) => x !== '&');
    lines++;
    const r = spawnSync(exe(p), [...args, '--help'], { encoding: 'utf8' });
    ok(r.status === 0 && r.stdout.startsWith("Usage:"), `${f}: \`${[p, ...args].join(" ").slice(0, 100)}\` parses`, `${r.stderr || r.stdout}`.trim());
  }
}
ok(lines >= 8, `the docs show at least 8 proxy command lines (${lines})`);

// udm-proxies commands, in an empty fake root.
const fake = fs.mkdtempSync(path.join(os.tmpdir(), 'udm-docs-'));
const manager = path.join(fake, 'udm-proxies');
fs.writeFileSync(
  manager,
  read('scripts/gateway/udm-proxies').replace(/@ROOT@/g, fake).replace(/@DATA@/g, `${fake}/data`).replace(/@RUN@/g, `${fake}/run`).replace(/@LOG@/g, `${fake}/log`).replace(/@REPO@|@URL@/g, ''),
);
const usage = spawnSync('sh', [manager, '--help'], { encoding: 'utf8' }).stdout;
const commands = new Set([...usage.matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1]));
let managed = 0;
for (const f of docFiles) {
  for (const line of shLines(read(f))) {
    const w = words(line);
    const at = w.findIndex((x) => !x.includes("://") && /(^|\/)udm-proxies\/udm-proxies$/.test(x));
    if (at < 0 || /[<[]/.test(line)) continue;
    const args = w.slice(at + 1);
    managed++;
    const safe = !['logs', 'upgrade'].includes(args[0]); // logs follows forever; upgrade downloads
    const r = safe ? spawnSync('sh', [manager, ...args], { encoding: 'utf8', timeout: 10_000, env: { ...process.env, UDM_PROXIES_URL: 'http://127.0.0.1:9/none' } }) : { stdout: '', stderr: '' };
    const out = `${r.stdout}${r.stderr}`;
    ok(commands.has(args[0]) && !/unknown (command|option)/.test(out), `${f}: \`udm-proxies ${args.join(' ')}\` is a command it knows${safe ? ' (run in an empty root)' : ''}`, out.trim() || `commands: ${[...commands].join(' ')}`);
  }
}
ok(managed >= 5, `the docs show at least 5 udm-proxies commands (${managed})`);
fs.rmSync(fake, { recursive: true, force: true });
process.exitCode = failed ? 1 : 0;
