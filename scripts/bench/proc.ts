/**
 * CPU time and resident memory of processes, read from /proc (Linux): utime + stime of
 * /proc/<pid>/stat, VmHWM of /proc/<pid>/status, Pss of /proc/<pid>/smaps_rollup.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

/** Clock ticks per second (USER_HZ), the unit of utime and stime. */
const TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU ms (user + system) the process has used, or undefined when it is gone. */
export function cpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS;
  } catch {
    return undefined;
  }
}

/** A field of /proc/<pid>/status in kB (VmHWM, VmRSS, RssAnon, RssShmem …), or 0 when gone. */
export function statusKb(pid: number, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

function parentOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return -1;
  }
}

const allPids = () =>
  readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number);

/** Processes whose command line matches `pattern`. */
export function pidsMatching(pattern: RegExp): number[] {
  return allPids().filter((pid) => pattern.test(cmdline(pid)));
}

/** The process and all its descendants. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const pid of allPids()) {
    const parent = parentOf(pid);
    children.set(parent, [...(children.get(parent) ?? []), pid]);
  }
  const out: number[] = [];
  const visit = (pid: number) => {
    out.push(pid);
    for (const c of children.get(pid) ?? []) visit(c);
  };
  visit(root);
  return out;
}

/** A named group of processes measured together (e.g. every process of one Postgres server). */
export interface ProcessGroup {
  label: string;
  /** Read again at each sample: Postgres backends come and go. */
  pids: () => number[];
  /** How memory is reported: a Node service's peak, or the current total of a multi-process server. */
  memory: 'peak' | 'server';
  /** The benchmark's own measuring (its settle checks): shown, but not in the system's total. */
  harness?: boolean;
}

export interface CpuSample {
  /** label → pid → CPU ms at the sample. */
  byGroup: Map<string, Map<number, number>>;
}

export function sampleCpu(groups: ProcessGroup[]): CpuSample {
  const byGroup = new Map<string, Map<number, number>>();
  for (const g of groups) {
    const m = new Map<number, number>();
    for (const pid of g.pids()) {
      const ms = cpuMs(pid);
      if (ms !== undefined) m.set(pid, ms);
    }
    byGroup.set(g.label, m);
  }
  return { byGroup };
}

/**
 * CPU ms used per group between two samples. A process that appeared in between counts from
 * zero; one that exited in between is lost (its last reading is unknown) — rare here, since every
 * pool keeps its connections.
 */
export function cpuBetween(before: CpuSample, after: CpuSample): Map<string, number> {
  const out = new Map<string, number>();
  for (const [label, now] of after.byGroup) {
    const then = before.byGroup.get(label) ?? new Map<number, number>();
    let sum = 0;
    for (const [pid, ms] of now) sum += ms - (then.get(pid) ?? 0);
    out.set(label, sum);
  }
  return out;
}

/** Proportional set size in kB (shared pages divided among the processes sharing them), or 0. */
function pssKb(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * Memory in MB: for a single process its peak resident set (VmHWM); for a multi-process server
 * (Postgres: postmaster, backends, background workers) the sum of their proportional set sizes
 * now — each shared page counted once across them, so the sum is the server's real footprint.
 */
export function memoryMb(group: ProcessGroup): number {
  const pids = group.pids();
  const kb =
    group.memory === 'peak' ? pids.reduce((s, pid) => s + statusKb(pid, 'VmHWM'), 0) : pids.reduce((s, pid) => s + pssKb(pid), 0);
  return kb / 1024;
}
