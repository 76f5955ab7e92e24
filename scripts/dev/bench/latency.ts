// Pairs each "<ns> <group>" line of a send/join log with the first capture line
// (mld-capture.ts) for that group at or after it, and prints the delays as JSON:
//   {"n":50,"matched":50,"medianMs":..,"p95Ms":..,"maxMs":..}
// Unmatched sends (no report seen) are counted, never guessed.
//
// Usage: node -r esbuild-register scripts/dev/bench/latency.ts SENT_LOG CAPTURE_LOG
import * as fs from 'node:fs';

function lines(file: string): string[][] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => /^\d+ /.test(l))
    .map((l) => l.split(' '));
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: number[], p: number): number {
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)];
}

const [sentFile, seenFile] = process.argv.slice(2);
if (!sentFile || !seenFile) throw new Error('usage: latency.ts SENT_LOG CAPTURE_LOG');
const seen = new Map<string, bigint[]>();
for (const [ns, , group] of lines(seenFile)) {
  const list = seen.get(group) ?? [];
  list.push(BigInt(ns));
  seen.set(group, list);
}
const delays: number[] = [];
const sent = lines(sentFile);
for (const [ns, group] of sent) {
  const t = BigInt(ns);
  const at = (seen.get(group) ?? []).find((s) => s >= t);
  if (at !== undefined) delays.push(Number(at - t) / 1e6);
}
delays.sort((a, b) => a - b);
const ms = (v: number | undefined) => (v === undefined ? null : +v.toFixed(2));
process.stdout.write(
  JSON.stringify({
    n: sent.length,
    matched: delays.length,
    medianMs: ms(delays.length ? percentile(delays, 0.5) : undefined),
    p95Ms: ms(delays.length ? percentile(delays, 0.95) : undefined),
    maxMs: ms(delays.at(-1)),
  }) + '\n',
);
