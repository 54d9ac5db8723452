// Helpers shared by the benchmarks: process CPU and RSS from /proc, percentiles, and the
// machine / commit line every recorded result carries.
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { execSync } from 'node:child_process';
import { ROOT } from '../test/e2e/harness.js';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** utime + stime of process `pid`, in seconds (0 when it is gone). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** Resident set size of process `pid`, in bytes. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

/** The p-th percentile of ascending `sorted`. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** "2 × CPU model, N GiB RAM, kernel, Node version". */
export function machine(): string {
  const c = cpus();
  let kernel = '';
  try {
    kernel = execSync('uname -sr').toString().trim();
  } catch {}
  return `${c.length} × ${c[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${kernel}, Node ${process.version}`;
}

/** The short commit hash of the checkout. */
export function commit(): string {
  try {
    return execSync('git rev-parse --short HEAD', { cwd: ROOT }).toString().trim();
  } catch {
    return 'unknown';
  }
}
