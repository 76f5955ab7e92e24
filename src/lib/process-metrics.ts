// The standard process metrics every Prometheus client exposes (the names
// node_exporter's and client_golang's users know), plus the part of RSS that
// is ours to give back (RssAnon, lib/memory.ts), read at each scrape: a
// readdir of /proc/self/fd and one read of /proc/self/status each.
import fs from 'node:fs';
import { gauge, counter, type MetricFamily } from './metrics';
import { statusBytes } from './memory';

// process.uptime() counts from the process's start, before the bundle loaded.
const startSeconds = Math.round((Date.now() / 1000 - process.uptime()) * 1000) / 1000;
let maxFds: number | undefined;

function openFds(): number {
  try {
    // The directory's own descriptor is in the listing: readdirSync opened it.
    return fs.readdirSync('/proc/self/fd').length - 1;
  } catch {
    return NaN;
  }
}

function readMaxFds(): number {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(fs.readFileSync('/proc/self/limits', 'latin1'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

export function processMetrics(prefix: string): MetricFamily[] {
  const cpu = process.cpuUsage();
  maxFds ??= readMaxFds();
  return [
    counter('process_cpu_seconds_total', 'User and system CPU time spent, in seconds.', (cpu.user + cpu.system) / 1e6),
    gauge('process_start_time_seconds', 'Start time of the process since the Unix epoch, in seconds.', startSeconds),
    gauge('process_resident_memory_bytes', 'Resident memory size, in bytes.', statusBytes('VmRSS')),
    gauge('process_virtual_memory_bytes', 'Virtual memory size, in bytes.', statusBytes('VmSize')),
    gauge('process_open_fds', 'Number of open file descriptors.', openFds()),
    gauge('process_max_fds', 'Maximum number of open file descriptors.', maxFds),
    gauge(`${prefix}_rss_anon_bytes`, 'Anonymous resident memory (RssAnon), in bytes: the heap and buffers, without the executable pages shared with the page cache.', statusBytes('RssAnon')),
  ];
}
