// The executable's start-up pages, unmapped once a daemon has settled.
//
// Each proxy is one ~100 MB single executable: Node, V8's start-up snapshot,
// ICU's data and the bundle. Starting touches a third of it (reading the
// snapshot and the bundle, initialising ICU and V8), and those pages stay in
// the process's page tables: on arm64 (make bench, in the VM) the executable
// was 36-38 MB of each idle daemon's 50-56 MB VmRSS, and the four daemons do
// not share it (four files). At rest a daemon runs a few hundred kilobytes of
// that code.
//
// madvise(MADV_DONTNEED) on a private file mapping drops the pages from this
// process only: "subsequent accesses ... will result in repopulating the
// memory contents from the up-to-date contents of the underlying mapped file"
// (madvise(2)), so code or data used again comes back by a minor fault from
// the page cache. Unmapped clean pages are the first the kernel reclaims
// under pressure; mapped executable pages are the last.
//
// Only mappings that still equal the file are dropped: no write permission
// and no page copied on write ("Anonymous: 0 kB" in smaps). A page that
// relocation wrote (RELRO, the GOT) is anonymous, and dropping it would bring
// back the file's unrelocated bytes; those mappings are skipped whole.
import fs from 'node:fs';
import { statusBytes } from './memory';
import { rawCalls } from './native';

const MADV_DONTNEED = 4;

export interface PageRange {
  start: number;
  end: number;
}

/** The ranges of mappings of `exe` in an smaps text that are read-only and never written: safe to drop. */
export function cleanExecutableRanges(smaps: string, exe: string): PageRange[] {
  const out: PageRange[] = [];
  let cur: { range: PageRange; candidate: boolean; clean: boolean } | undefined;
  const flush = () => {
    if (cur?.candidate && cur.clean) out.push(cur.range);
    cur = undefined;
  };
  for (const line of smaps.split('\n')) {
    // "00400000-00746000 r--p 00000000 08:01 1234   /path/to/exe"
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+ *(.*)$/.exec(line);
    if (head) {
      flush();
      const range = { start: parseInt(head[1], 16), end: parseInt(head[2], 16) };
      cur = { range, candidate: head[4] === exe && !head[3].includes('w') && range.end > range.start, clean: false };
      continue;
    }
    // Copied-on-write pages make the mapping differ from the file. A mapping
    // without the field (an old kernel) is not known to be clean.
    const anon = /^Anonymous:\s+(\d+) kB/.exec(line);
    if (anon && cur) cur.clean = anon[1] === '0';
  }
  flush();
  return out;
}

export interface DropOutcome {
  /** Mappings dropped. */
  ranges: number;
  /** RssFile before and after, in bytes (NaN where /proc has none). */
  before: number;
  after: number;
}

/** Drops this process's clean pages of its own executable (see above). Throws when /proc or the native layer is missing. */
export function dropExecutablePages(): DropOutcome {
  const before = statusBytes('RssFile');
  const exe = fs.readlinkSync('/proc/self/exe');
  const ranges = cleanExecutableRanges(fs.readFileSync('/proc/self/smaps', 'latin1'), exe);
  const sys = rawCalls();
  let dropped = 0;
  for (const r of ranges) if (sys.madvise(r.start, r.end - r.start, MADV_DONTNEED) === 0) dropped++;
  return { ranges: dropped, before, after: statusBytes('RssFile') };
}
