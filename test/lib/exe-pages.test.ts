import { execFileSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cleanExecutableRanges } from '../../src/lib/exe-pages';

const EXE = '/data/udm-proxies/bin/udp-tunnel';

// One mapping in smaps: its head line and the fields that matter here.
const mapping = (range: string, perms: string, path: string, anonKb: number | undefined) =>
  [`${range} ${perms} 00000000 08:01 1234                       ${path}`, 'Size:              13592 kB', 'Rss:                2328 kB', ...(anonKb === undefined ? [] : [`Anonymous:        ${anonKb} kB`]), 'VmFlags: rd mr mw me dw sd'].join('\n');

test('the executable read-only mappings that were never written are kept; the rest are not', () => {
  const smaps = [
    mapping('00400000-00746000', 'r--p', EXE, 0),
    mapping('0074a000-03201000', 'r-xp', EXE, 0),
    mapping('06b52000-06b56000', 'r--p', EXE, 16), // RELRO: relocated, so copied on write
    mapping('06b56000-06b7d000', 'rw-p', EXE, 0), // .data: writable
    mapping('06b7d000-06bb6000', 'rw-p', '', 116), // .bss
    mapping('0e7c0000-0e900000', 'r--p', EXE, 0), // the SEA blob's note
    mapping('7f0000000000-7f0000200000', 'r-xp', '/usr/lib/x86_64-linux-gnu/libc.so.6', 0), // shared with others anyway
    mapping('7f0000400000-7f0000600000', 'r-xp', `${EXE}.old`, 0), // another file
    mapping('7f0000800000-7f0000a00000', 'r-xp', EXE, undefined), // no Anonymous field: not known clean
    '',
  ].join('\n');
  assert.equal(cleanExecutableRanges(smaps, EXE), [
    { start: 0x400000, end: 0x746000 },
    { start: 0x74a000, end: 0x3201000 },
    { start: 0xe7c0000, end: 0xe900000 },
  ]);
});

test('an executable replaced while running ("(deleted)") is matched by its whole name', () => {
  const deleted = `${EXE} (deleted)`;
  const smaps = mapping('00400000-00746000', 'r-xp', deleted, 0);
  assert.equal(cleanExecutableRanges(smaps, deleted), [{ start: 0x400000, end: 0x746000 }]);
  assert.equal(cleanExecutableRanges(smaps, EXE), []);
});

test('dropExecutablePages: Node\'s own pages leave RssFile and the process runs on', () => {
  // In a fresh process: the code that runs after the drop faults back in.
  const script = `const { dropExecutablePages } = require(${JSON.stringify(require.resolve('../../src/lib/exe-pages'))});
    const out = dropExecutablePages();
    let x = 0; for (let i = 0; i < 1e5; i++) x += JSON.stringify({ i }).length + new Date(i).toISOString().length;
    process.stdout.write(JSON.stringify({ ...out, x }));`;
  const out = JSON.parse(execFileSync(process.execPath, ['-r', 'esbuild-register', '-e', script], { encoding: 'utf8' }));
  assert.ok(out.ranges >= 1, `${out.ranges} mappings dropped`);
  assert.ok(out.after < out.before - 4 * (1 << 20), `RssFile ${out.before} -> ${out.after} bytes`);
  assert.ok(out.x > 0);
});

test.run();
