import { histogram } from '@patchflow/config';
import { isDatabaseUnavailable } from '@patchflow/db';
import type { ProjectionChange, ProjectionInput } from './projection.js';

/** The projection as the batcher needs it: one transaction per call, all or nothing. */
export interface BatchApplier {
  applyBatch(inputs: readonly ProjectionInput[]): Promise<(ProjectionChange | undefined)[]>;
}

export interface ProjectionBatcherOptions {
  /** Most messages in one transaction. */
  maxBatch: number;
  /** Transactions running at once; a message arriving while fewer run leaves at once. */
  maxInFlight: number;
  /** Called once per committed transaction with what it changed (for the coalesced pings). */
  onApplied(changes: ProjectionChange[]): void;
  /**
   * How long a work item or a step may wait for company (0: never). An execution's outcome — what
   * settles a transition — never waits, and takes whatever waits with it: a step is followed by its
   * execution's outcome a few milliseconds later, so they share one transaction.
   */
  lingerMs?: number;
  /**
   * Under load: how long the next transaction waits after one ends, when what queued meanwhile
   * is less than a full batch (0: never). More arrives in that time, so there are fewer, larger
   * transactions. A quiet system's queue is empty when a transaction ends: nothing waits.
   */
  pauseAfterMs?: number;
}

const batchSize = histogram({
  name: 'action_log_batch_size',
  help: 'Messages applied together in one action-log projection transaction',
  buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
});

/**
 * Groups messages that the consumers deliver concurrently into one transaction each: an
 * execution's outcome goes at once when fewer than `maxInFlight` transactions run; a work item or
 * a step waits up to `lingerMs` for one (at 10 transitions/s that halves the transactions; under
 * load batches fill up anyway); otherwise a message waits and leaves with the next batch, which
 * starts `pauseAfterMs` after the last one ended unless it is full. Each caller gets its own
 * outcome, so the poison guard still decides per message: when a batch fails, its messages are
 * applied again one by one (one transaction each) and only the one that fails gets the error —
 * unless Postgres is unreachable, which is nobody's fault and fails them all at once.
 */
export class ProjectionBatcher {
  private queue: { input: ProjectionInput; resolve: (c: ProjectionChange | undefined) => void; reject: (e: unknown) => void }[] =
    [];
  private inFlight = 0;
  /** Set while work items or steps wait for company (`lingerMs`), or during a pause (`pauseAfterMs`). */
  private lingering: NodeJS.Timeout | undefined;
  /** A pause after a transaction (`pauseAfterMs`): nothing starts one early but a full batch. */
  private pausing = false;

  constructor(
    private readonly projection: BatchApplier,
    private readonly options: ProjectionBatcherOptions,
  ) {}

  apply(input: ProjectionInput): Promise<ProjectionChange | undefined> {
    return new Promise((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      if (this.pausing && this.queue.length < this.options.maxBatch) return;
      const lingerMs = this.options.lingerMs ?? 0;
      const settles = input.kind === 'event' && input.event.kind === 'execution';
      if (settles || lingerMs <= 0 || this.queue.length >= this.options.maxBatch) this.dispatch();
      else this.lingering ??= setTimeout(() => this.dispatch(), lingerMs);
    });
  }

  private dispatch(): void {
    clearTimeout(this.lingering);
    this.lingering = undefined;
    this.pausing = false;
    while (this.queue.length > 0 && this.inFlight < this.options.maxInFlight) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.inFlight += 1;
      void this.execute(batch).finally(() => {
        this.inFlight -= 1;
        const pauseMs = this.options.pauseAfterMs ?? 0;
        if (pauseMs > 0 && this.queue.length > 0 && this.queue.length < this.options.maxBatch) {
          this.pausing = true;
          clearTimeout(this.lingering);
          this.lingering = setTimeout(() => this.dispatch(), pauseMs);
        } else this.dispatch();
      });
    }
  }

  private async execute(batch: typeof this.queue): Promise<void> {
    batchSize.observe(batch.length);
    try {
      const changes = await this.projection.applyBatch(batch.map((b) => b.input));
      this.announce(changes);
      batch.forEach((b, i) => b.resolve(changes[i]));
      return;
    } catch (err) {
      if (batch.length === 1 || isDatabaseUnavailable(err)) {
        for (const b of batch) b.reject(err);
        return;
      }
    }
    // One of them (or more) cannot be applied: find out which, each in its own transaction.
    for (const b of batch) {
      try {
        const [change] = await this.projection.applyBatch([b.input]);
        this.announce([change]);
        b.resolve(change);
      } catch (err) {
        b.reject(err);
      }
    }
  }

  private announce(changes: (ProjectionChange | undefined)[]): void {
    const real = changes.filter((c): c is ProjectionChange => c !== undefined);
    if (real.length > 0) this.options.onApplied(real);
  }
}

/**
 * The pings of one batch: one per changed work item (a patch's transitions are seconds apart, so
 * in practice one per patch), instead of one per message. A ping only tells watchers to refetch,
 * but it names a work item, and what they wait for is an execution's state: the last execution
 * change of the work item stands for all its changes, else its first change.
 */
export function coalescePings(changes: readonly ProjectionChange[]): ProjectionChange[] {
  const chosen = new Map<string, ProjectionChange>();
  for (const c of changes) {
    const key = `${c.patchId}/${c.workId}`;
    const had = chosen.get(key);
    if (!had || c.kind === 'execution') chosen.set(key, c);
  }
  return [...chosen.values()];
}
