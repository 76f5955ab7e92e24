// Prometheus metrics (issue 22): the families a daemon exposes, written in
// the Prometheus text format (0.0.4) or OpenMetrics 1.0 when the scraper asks
// for it. The families are made at each scrape from the counters `status`
// already shows, so nothing is counted twice and nothing runs between scrapes.
//
// Written here rather than with prom-client: prom-client's registry and
// metric objects keep state of their own (set from ours at each scrape), and
// loading it cost +4 MB of RssAnon and +67 KB of bundle on an idle Node
// (docs/metrics.md); these ~150 lines cost neither.

export type Labels = Record<string, string>;

export interface Sample {
  labels?: Labels;
  value: number;
}

export interface HistogramSample {
  labels?: Labels;
  /** Upper bounds, ascending, without +Inf. */
  bounds: readonly number[];
  /** Observations per bucket (not cumulative): bounds.length + 1 entries, the last for +Inf. */
  counts: readonly number[];
  sum: number;
}

export type MetricFamily =
  | { name: string; help: string; type: 'counter' | 'gauge'; samples: Sample[] }
  | { name: string; help: string; type: 'histogram'; samples: HistogramSample[] }
  /** Value 1, the facts in labels (build_info); the name without `_info`. */
  | { name: string; help: string; type: 'info'; samples: Sample[] };

/** A counter's family name: without the `_total` its samples carry (OpenMetrics names the family so). */
export function counter(name: string, help: string, samples: Sample[] | number): MetricFamily {
  if (!name.endsWith('_total')) throw new Error(`counter ${name} must end in _total`);
  return { name: name.slice(0, -'_total'.length), help, type: 'counter', samples: typeof samples === 'number' ? [{ value: samples }] : samples };
}

export function info(name: string, help: string, labels: Labels): MetricFamily {
  if (!name.endsWith('_info')) throw new Error(`info ${name} must end in _info`);
  return { name: name.slice(0, -'_info'.length), help, type: 'info', samples: [{ labels, value: 1 }] };
}

export function gauge(name: string, help: string, samples: Sample[] | number): MetricFamily {
  return { name, help, type: 'gauge', samples: typeof samples === 'number' ? [{ value: samples }] : samples };
}

/** One sample per key of a status drop table, the key as the `reason` label (camelCase -> snake_case). */
export function byReason(table: Record<string, number> | undefined, labels: Labels = {}): Sample[] {
  const out: Sample[] = [];
  if (table) for (const k of Object.keys(table)) out.push({ labels: { ...labels, reason: snake(k) }, value: table[k] });
  return out;
}

/** "foreignSource" -> "foreign_source", "bad-mac" -> "bad_mac". */
export function snake(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`).replace(/[^a-zA-Z0-9_]/g, '_');
}

/** A fixed-bucket histogram: observe() is two comparisons' worth of work per bucket, no allocation. */
export class Histogram {
  readonly counts: number[];
  sum = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Array(bounds.length + 1).fill(0);
  }

  observe(v: number): void {
    let i = 0;
    while (i < this.bounds.length && v > this.bounds[i]) i++;
    this.counts[i]++;
    this.sum += v;
  }

  sample(labels?: Labels): HistogramSample {
    return { labels, bounds: this.bounds, counts: this.counts, sum: this.sum };
  }
}

export const TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** OpenMetrics if the Accept header names it with a non-zero q; else the classic text format. */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  if (!accept) return false;
  for (const part of accept.split(',')) {
    const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (type !== 'application/openmetrics-text') continue;
    const q = params.find((p) => p.startsWith('q='));
    if (q === undefined || Number(q.slice(2)) > 0) return true;
  }
  return false;
}

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const escapeHelp = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

function labelText(labels: Labels | undefined, extra?: string): string {
  const parts: string[] = [];
  if (labels) for (const k of Object.keys(labels)) parts.push(`${k}="${escapeLabel(labels[k])}"`);
  if (extra) parts.push(extra);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** The exposition of the families: Prometheus text 0.0.4, or OpenMetrics 1.0 (ends with "# EOF"). */
export function render(families: MetricFamily[], openMetrics: boolean): string {
  const out: string[] = [];
  for (const f of families) {
    // A family without samples still says what it is; a NaN (no /proc) is left out.
    // Counters and infos: OpenMetrics names the family without the suffix its samples carry; the text format has no info type.
    const suffix = f.type === 'counter' ? '_total' : f.type === 'info' ? '_info' : '';
    const base = openMetrics ? f.name : f.name + suffix;
    const type = f.type === 'info' && !openMetrics ? 'gauge' : f.type;
    out.push(`# HELP ${base} ${escapeHelp(f.help)}`, `# TYPE ${base} ${type}`);
    if (f.type === 'histogram') {
      for (const s of f.samples) {
        let cumulative = 0;
        for (let i = 0; i <= s.bounds.length; i++) {
          cumulative += s.counts[i];
          const le = i < s.bounds.length ? num(s.bounds[i]) : '+Inf';
          out.push(`${f.name}_bucket${labelText(s.labels, `le="${le}"`)} ${cumulative}`);
        }
        out.push(`${f.name}_sum${labelText(s.labels)} ${num(s.sum)}`, `${f.name}_count${labelText(s.labels)} ${cumulative}`);
      }
      continue;
    }
    const name = f.name + suffix;
    for (const s of f.samples) {
      if (Number.isNaN(s.value)) continue;
      out.push(`${name}${labelText(s.labels)} ${num(s.value)}`);
    }
  }
  if (openMetrics) out.push('# EOF');
  return out.join('\n') + '\n';
}
