import { usageError } from './cli-error.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `500ms`, `2s`, `1.5m`, `1h`, `7d` (a bare number is milliseconds) → ms; anything else is a usage error. */
export function parseDuration(text: string, option: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) throw usageError(`${option}: "${text}" is not a duration (e.g. 500ms, 2s, 5m, 1h)`);
  return Math.round(Number(m[1]) * UNITS[m[2] ?? 'ms']!);
}

/** A point in time: an ISO date/time, or a duration meaning that long ago (`2h` = two hours ago). */
export function parseTime(text: string, option: string, now = Date.now()): Date {
  if (/^\d+(\.\d+)?(ms|s|m|h|d)$/.test(text.trim())) return new Date(now - parseDuration(text, option));
  const t = new Date(text);
  if (/^\d{4}-\d{2}-\d{2}/.test(text.trim()) && !Number.isNaN(t.getTime())) return t;
  throw usageError(`${option}: "${text}" is not a time (an ISO time such as 2026-11-26T10:00:00Z, or an age such as 2h)`);
}

/** A positive integer option. */
export function parsePositiveInt(text: string, option: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1 || Number(text) > max) {
    throw usageError(`${option}: "${text}" is not a whole number from 1 to ${max}`);
  }
  return Number(text);
}
