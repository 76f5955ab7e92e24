import mri from 'mri';

// A mistake in how the program was invoked: the user fixes the command line.
// runMain maps it to exit code 2 and a hint to read --help; any other Error is
// a runtime failure (exit code 1).
export class UsageError extends Error {
  name = 'UsageError';
}

export interface ArgSpec {
  string?: string[];
  boolean?: string[];
  alias?: Record<string, string | string[]>;
  default?: Record<string, unknown>;
  // Given as often as wanted; the result is always an array (maybe empty).
  repeatable?: string[];
  // Parsed as base-10 integers; mri's own coercion would take "1e3" or "0x10".
  integer?: string[];
  // String options whose value may itself start with '-' (a name the user chose):
  // the next word is their value whatever it looks like, as getopt(3) does for an
  // option with a required argument. Others keep refusing "--config --foreground".
  anyValue?: string[];
}

export type Args = mri.Argv<Record<string, any>>;

export function parseArgs(argv: string[], spec: ArgSpec = {}): Args {
  const groups = aliasGroups(spec.alias || {});
  // Every option is handled under its longest name; mri's own alias handling
  // would keep "-p a --peer b" apart and then let one overwrite the other.
  const canon = (name: string) => longest(groups.get(name) || [name]);
  const names = (list: string[] = []) => list.map(canon);

  const integer = new Set(names(spec.integer));
  const repeatable = new Set(names(spec.repeatable));
  const boolean = new Set(names(spec.boolean));
  // Integers are read as strings so we see exactly what the user typed.
  const string = new Set([...names(spec.string), ...integer]);
  const defaults: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(spec.default || {})) defaults[canon(k)] = v;
  const known = new Set([...string, ...boolean, ...repeatable, ...names([...groups.keys()]), ...Object.keys(defaults)]);

  // mri only knows a flag in strict mode when it is a key of `alias`.
  const alias: Record<string, string[]> = {};
  for (const name of known) alias[name] = [];

  const out: Args = mri(canonicalArgv(argv, groups, canon, new Set(names(spec.anyValue))), {
    string: [...string],
    boolean: [...boolean],
    alias,
    default: defaults,
    unknown(flag) {
      throw new UsageError(`unknown option ${flag}`);
    },
  });

  for (const name of known) {
    const all = groups.get(name) || [name];
    if (out[name] === undefined) {
      if (repeatable.has(name)) for (const n of all) out[n] = [];
      continue;
    }
    const flag = (name.length > 1 ? '--' : '-') + name;
    let values: unknown[] = Array.isArray(out[name]) ? out[name] : [out[name]];
    if (values.length > 1 && !repeatable.has(name) && !boolean.has(name)) {
      throw new UsageError(`option ${flag} given more than once`);
    }
    if (string.has(name)) {
      // mri turns "--file" with nothing after it (or "--file=") into ''
      for (const v of values) if (v === '') throw new UsageError(`option ${flag} needs a value`);
    }
    if (integer.has(name)) values = values.map((v) => toInteger(v, flag));
    const value = repeatable.has(name) ? values : values[values.length - 1];
    for (const n of all) out[n] = value;
  }
  return out;
}

// Rewrites aliases to their canonical long name: "-fc x" -> "--foreground --config x".
function canonicalArgv(argv: string[], groups: Map<string, string[]>, canon: (n: string) => string, anyValue: Set<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const m = /^(--?)(no-)?([^=]+)(=.*)?$/s.exec(arg);
    if (!m) {
      out.push(arg);
      continue;
    }
    const [, dashes, no = '', body, value = ''] = m;
    const parts = dashes === '-' && !no ? [...body] : [body];
    parts.forEach((p, k) => {
      const name = groups.has(p) ? canon(p) : p;
      const dash = name.length > 1 || dashes === '--' ? '--' : '-';
      const last = k === parts.length - 1;
      // "-n -x" -> "--name=-x": mri would read "-x" as an option of its own.
      if (last && !value && !no && anyValue.has(name) && i + 1 < argv.length) out.push(`${dash}${name}=${argv[++i]}`);
      else out.push(dash + no + name + (last ? value : ''));
    });
  }
  return out;
}

function toInteger(v: unknown, flag: string): number {
  if (typeof v === 'number') return v; // a default from the spec
  const s = String(v);
  const n = Number(s);
  if (!/^-?\d+$/.test(s) || !Number.isSafeInteger(n)) {
    throw new UsageError(`option ${flag} expects an integer, got "${s}"`);
  }
  return n;
}

// name -> every name of the same option (itself included)
function aliasGroups(alias: Record<string, string | string[]>): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const [k, v] of Object.entries(alias)) {
    const names = [k, ...(Array.isArray(v) ? v : [v])];
    for (const n of names) {
      const prev = groups.get(n) || [];
      const merged = [...new Set([...prev, ...names])];
      for (const m of merged) groups.set(m, merged);
    }
  }
  return groups;
}

function longest(names: string[]): string {
  return names.reduce((a, b) => (b.length > a.length ? b : a));
}

export interface MainIo {
  stderr?: (s: string) => void;
  exit?: (code: number) => void;
}

// The single exit path of every bin. Success only sets process.exitCode so
// stdout drains; failures exit at once, since a half-started daemon may hold
// sockets or timers that would keep the process alive.
export async function runMain(
  name: string,
  main: () => Promise<number | void> | number | void,
  io: MainIo = {},
): Promise<void> {
  const stderr = io.stderr || ((s: string) => process.stderr.write(s));
  const exit = io.exit || ((code: number) => process.exit(code));
  let code: number | void;
  try {
    code = await main();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    stderr(`ERROR: ${message}\n`);
    if (err instanceof UsageError) {
      stderr(`Run '${name} --help' for usage.\n`);
      return exit(2);
    }
    return exit(1);
  }
  process.exitCode = code || 0;
}
