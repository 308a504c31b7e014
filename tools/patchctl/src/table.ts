/** A cell: numbers are right-aligned, null/undefined print as "-". */
export type Cell = string | number | boolean | null | undefined;

/**
 * Plain-text table with a header row and a rule under it, columns padded to their widest cell.
 * No colours or box characters, so it greps, pipes and pastes into a ticket as it is.
 */
export function formatTable(headers: string[], rows: Cell[][]): string {
  const text = (c: Cell) => (c === null || c === undefined ? '-' : String(c));
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => text(r[i]).length)));
  const line = (cells: Cell[], header = false) =>
    widths
      .map((w, i) => {
        const c = cells[i];
        const t = header ? String(c) : text(c);
        return typeof c === 'number' && !header ? t.padStart(w) : t.padEnd(w);
      })
      .join('  ')
      .trimEnd();
  return [line(headers, true), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map((r) => line(r))].join('\n');
}

/** Shortens a long free text (an error message) to `max` characters for a table cell. */
export function clip(text: string | null | undefined, max = 60): string {
  if (!text) return '-';
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** Age of a timestamp as `3s`, `4m`, `2h`, `5d` (now by default). */
export function age(iso: string | Date | null | undefined, now = Date.now()): string {
  if (!iso) return '-';
  const ms = now - new Date(iso).getTime();
  if (!Number.isFinite(ms)) return '-';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

/** Bytes as B / KiB / MiB / GiB. */
export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}
