/** What the load driver needs of each system under test (Patchflow and the two peers). */
import type { PrivatePostgres } from '@patchflow/testing';
import type { ProcessGroup } from './proc.js';
import type { Committed, Settled } from './settle.js';

export interface BenchSystem {
  /** The row's name in the tables. */
  readonly label: string;
  /** Every process that works for this system, for CPU and memory. */
  processes(): ProcessGroup[];
  /**
   * Creates `n` patches and takes each through markActive (the warm-up, not measured); resolves
   * when all that work has settled, with the patch ids.
   */
  prepare(n: number): Promise<string[]>;
  /** One startDeployment on an active patch: resolves when it has committed. */
  startDeployment(patchId: string): Promise<Committed>;
  /** Resolves when the committed transition has settled. */
  settled(c: Committed): Promise<Settled>;
  /** Commit → the first routed workflow started, in ms, for each key (after they settled). */
  pickups(keys: Committed[]): Promise<number[]>;
  /**
   * Per workflow, each execution's time from its start to its outcome (ms), for the keys given
   * (after they settled): where a settle time goes, beside the pickup.
   */
  executionTimes?(keys: Committed[]): Promise<Map<string, number[]>>;
  /** The system's private Postgres (for `--statements`). */
  postgresServer?(): PrivatePostgres;
  /** Anything the reader should know about the run (requests retried…). */
  notes?(): string[];
  stop(): Promise<void>;
}
