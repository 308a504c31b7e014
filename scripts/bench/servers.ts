/** The private servers of a run, and the process groups that measure them. */
import type { PrivateNatsServer, PrivatePostgres } from '@patchflow/testing';
import { pidsMatching, processTree, type ProcessGroup } from './proc.js';

/** Every process of a private Postgres (postmaster and its children), minus `exclude`. */
export function postgresGroup(server: PrivatePostgres, exclude: () => number[] = () => []): ProcessGroup {
  const pattern = new RegExp(`bin/postgres .*-p ${server.port}\\b`);
  return {
    label: 'postgres (all processes)',
    memory: 'server',
    pids: () => {
      const [postmaster] = pidsMatching(pattern);
      if (postmaster === undefined) return [];
      const skip = new Set(exclude());
      return processTree(postmaster).filter((p) => !skip.has(p));
    },
  };
}

export function natsGroup(server: PrivateNatsServer): ProcessGroup {
  const pattern = new RegExp(`nats-server .*-p ${server.port}\\b`);
  return { label: 'nats-server', memory: 'peak', pids: () => pidsMatching(pattern) };
}

/** A single process by pid (a Postgres backend is measured like its server: `memory` 'server'). */
export function processGroup(
  label: string,
  pid: () => number | undefined,
  memory: ProcessGroup['memory'] = 'peak',
): ProcessGroup {
  return {
    label,
    memory,
    pids: () => {
      const p = pid();
      return p === undefined ? [] : [p];
    },
  };
}
