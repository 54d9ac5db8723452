/**
 * Flag syntax shared by every command: pflag-style `--flag=true|false` on boolean flags,
 * Go-syntax integers and durations, and etcdctl's messages when a value does not parse.
 */
import { FlagValueError } from './cli-error.js';
import { parseGoBool, parseGoDuration, parseGoInt } from './go-format.js';

/** Every boolean flag of etceteractl's commands (pflag lets each take `=true`/`=false`). */
export const BOOLEAN_FLAGS: ReadonlySet<string> = new Set([
  'prefix',
  'progress-notify',
  'from-key',
  'keys-only',
  'count-only',
  'print-value-only',
  'prev-kv',
  'ignore-value',
  'ignore-lease',
  'physical',
  'hex',
  'interactive',
  'keys',
  'once',
  'learner',
  'cluster',
  'skip-hash-check',
]);

/**
 * Rewrites pflag's `--flag=<bool>` forms of boolean flags for commander, which only knows
 * `--flag`: a true value keeps the bare flag, a false value drops it. Tokens after `--` are
 * positional and left alone. Throws FlagValueError for a value Go's ParseBool rejects.
 */
export function normalizeBooleanFlags(argv: readonly string[]): string[] {
  const out: string[] = [];
  let positional = false;
  for (const arg of argv) {
    if (positional) {
      out.push(arg);
      continue;
    }
    if (arg === '--') positional = true;
    const m = /^--([a-z][a-z-]*)=(.*)$/s.exec(arg);
    if (m === null || !BOOLEAN_FLAGS.has(m[1]!)) {
      out.push(arg);
      continue;
    }
    let on: boolean;
    try {
      on = parseGoBool(m[2]!);
    } catch (e) {
      throw new FlagValueError(m[1]!, m[2]!, (e as Error).message);
    }
    if (on) out.push(`--${m[1]}`);
  }
  return out;
}

/**
 * An int64 flag value as pflag reads it (Go syntax, base prefixes allowed), as a safe
 * integer. Absent → `fallback`.
 */
export function intFlag(flag: string, value: string | undefined, fallback = 0): number {
  if (value === undefined) return fallback;
  let v: bigint;
  try {
    v = parseGoInt(value, 0);
  } catch (e) {
    throw new FlagValueError(flag, value, (e as Error).message);
  }
  const n = Number(v);
  if (!Number.isSafeInteger(n)) {
    throw new FlagValueError(flag, value, `value out of the safe integer range of etceteractl`);
  }
  return n;
}

/** A Go duration flag value (`5s`, `500ms`, `1m30s`) in milliseconds. */
export function durationFlagMs(flag: string, value: string): number {
  try {
    return parseGoDuration(value) / 1e6;
  } catch (e) {
    throw new FlagValueError(flag, value, (e as Error).message);
  }
}
