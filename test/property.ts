// Shared settings and arbitraries of the property tests (fast-check).
//
// `make test` runs every property with a fixed seed and a modest number of runs, so the
// suite is fast and a failure reproduces. `make fuzz` runs them longer with a new seed,
// printed first; `make fuzz SEED=N` (FUZZ_SEED) replays one, FUZZ_RUNS scales the runs.
import fc from 'fast-check';
import * as assert from 'uvu/assert';
import { InputError } from '../src/lib/input-error';

export const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : 15;
const SCALE = process.env.FUZZ_RUNS ? Number(process.env.FUZZ_RUNS) : 1;

/** Runs a property `runs` times (times FUZZ_RUNS) from the seed; a failure names seed and path. */
export function holds<Ts extends [unknown, ...unknown[]]>(prop: fc.IPropertyWithHooks<Ts>, runs = 300): void {
  fc.assert(prop, { seed: SEED, numRuns: Math.max(1, Math.round(runs * SCALE)) });
}

/**
 * The verdict of a decoder on hostile input: the value, or undefined when it refused with the
 * project's typed error. Anything else thrown (a TypeError, a RangeError from Buffer) is a bug
 * that would reach the daemon's loop, and fails the property.
 */
export function decodeOrRefuse<T>(decode: () => T): T | undefined {
  try {
    return decode();
  } catch (err) {
    if (err instanceof InputError) return undefined;
    throw err;
  }
}

/** Asserts that decode refuses with InputError. */
export function refused(decode: () => unknown, why = 'expected a refusal'): void {
  let value: unknown;
  try {
    value = decode();
  } catch (err) {
    if (err instanceof InputError) return;
    throw err;
  }
  assert.unreachable(`${why}; decoded ${JSON.stringify(value)?.slice(0, 200)}`);
}

type Mutation = [kind: 'flip' | 'set' | 'cut' | 'insert' | 'delete', at: number, value: number];

/** One to four edits of a byte string: a bit flipped, a byte set, truncation, bytes inserted or deleted. */
export const mutations: fc.Arbitrary<Mutation[]> = fc.array(
  fc.tuple(fc.constantFrom('flip', 'set', 'cut', 'insert', 'delete'), fc.nat(), fc.nat(255)) as fc.Arbitrary<Mutation>,
  { minLength: 1, maxLength: 4 },
);

export function mutate(input: Uint8Array, edits: Mutation[]): Buffer {
  let b = Buffer.from(input);
  for (const [kind, at, value] of edits) {
    const i = b.length ? at % b.length : 0;
    if (kind === 'flip' && b.length) b[i] ^= 1 << (value & 7);
    else if (kind === 'set' && b.length) b[i] = value;
    else if (kind === 'cut') b = b.subarray(0, i);
    else if (kind === 'insert') b = Buffer.concat([b.subarray(0, i), Buffer.alloc(1 + (value & 15), value), b.subarray(i)]);
    else if (kind === 'delete') b = Buffer.concat([b.subarray(0, i), b.subarray(i + 1 + (value & 15))]);
  }
  return Buffer.from(b);
}

/** True when a mutation left the bytes as they were (a byte set to its own value). */
export function unchanged(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
}

/** The encoding of a valid value with one to four edits, read as UTF-8 (a damaged or hand-edited file). */
export function mutatedText<T>(valid: fc.Arbitrary<T>, encode: (v: T) => string | Uint8Array): fc.Arbitrary<string> {
  return fc.tuple(valid, mutations).map(([v, edits]) => mutate(Buffer.from(encode(v)), edits).toString('utf8'));
}

/** Property: every text is refused with InputError or decodes to a value that passes `check`. */
export function refusedOrValid<T>(text: fc.Arbitrary<string>, decode: (t: string) => T, check: (v: T) => void, runs = 1000): void {
  holds(
    fc.property(text, (t) => {
      const v = decodeOrRefuse(() => decode(t));
      if (v !== undefined) check(v);
    }),
    runs,
  );
}

/** Text as a file or datagram would bring it: any bytes, read as UTF-8. */
export const anyText = fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b).toString('utf8'));

/** A JSON document of any shape, or text that is almost JSON. */
export const anyJsonText = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 200 }),
  anyText,
);

export const ipv4Text = fc.ipV4();
export const ipv6Text = fc.ipV6();

export { fc };
