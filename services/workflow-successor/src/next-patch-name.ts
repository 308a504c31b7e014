/**
 * The successor's name: the last number in the name bumped by one, keeping its zero padding
 * (`2026.48.1` → `2026.48.2`, `rc-09` → `rc-10`). A name without a number gets `.2` appended
 * (it was implicitly the first).
 */
export function nextPatchName(name: string): string {
  const m = /(\d+)(?!.*\d)/.exec(name);
  if (!m) return `${name}.2`;
  const digits = m[1]!;
  const next = (BigInt(digits) + 1n).toString().padStart(digits.length, '0');
  return `${name.slice(0, m.index)}${next}${name.slice(m.index + digits.length)}`;
}
