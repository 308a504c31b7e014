/**
 * Waits for transitions to settle. Each system tells how to check a batch of keys (one query for
 * all of them); the tracker checks when poked (a live-update ping, a job-completed event) and
 * otherwise every `intervalMs`, never more often than every `minGapMs`, one check at a time.
 */

/** A transition that committed: its key (work id, transition id) and commit time (epoch ms). */
export interface Committed {
  key: string;
  committedAt: number;
}

export interface Settled extends Committed {
  settledAt: number;
}

interface Waiter {
  committed: Committed;
  resolve: (s: Settled) => void;
  timer: NodeJS.Timeout;
}

/** A transition not settled by then is an error (a failing workflow), not a slow result. */
const SETTLE_TIMEOUT_MS = 600_000;

export class SettleTracker {
  private readonly pending = new Map<string, Waiter>();
  private readonly dirty = new Set<string>();
  private wake: (() => void) | undefined;
  private running = true;
  private lastCheck = 0;
  private readonly done: Promise<void>;
  /** Errors of the check (a query failing) are counted, not thrown: the next check retries. */
  checkErrors = 0;

  constructor(
    /** Returns the keys among `keys` that have settled. */
    private readonly check: (keys: string[]) => Promise<string[]>,
    private readonly options: { intervalMs: number; minGapMs: number },
  ) {
    this.done = this.loop();
  }

  track(committed: Committed): Promise<Settled> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(committed.key);
        reject(
          new Error(`transition ${committed.key} did not settle within ${SETTLE_TIMEOUT_MS / 1000} s (a workflow failing?)`),
        );
      }, SETTLE_TIMEOUT_MS);
      this.pending.set(committed.key, { committed, resolve, timer });
      this.poke(committed.key);
    });
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Something about `key` changed (or, without a key, about all of them): check soon. */
  poke(key?: string): void {
    if (key === undefined) for (const k of this.pending.keys()) this.dirty.add(k);
    else if (this.pending.has(key)) this.dirty.add(key);
    else return;
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const w of this.pending.values()) clearTimeout(w.timer);
    this.wake?.();
    await this.done;
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const sinceLast = Date.now() - this.lastCheck;
      const timeout =
        this.pending.size === 0
          ? 60_000
          : this.dirty.size > 0
            ? Math.max(0, this.options.minGapMs - sinceLast)
            : this.options.intervalMs;
      if (timeout > 0) {
        await new Promise<void>((r) => {
          const t = setTimeout(r, timeout);
          this.wake = () => {
            clearTimeout(t);
            r();
          };
        });
        this.wake = undefined;
        // A poke woke us early: keep the minimum gap between checks.
        const gap = this.options.minGapMs - (Date.now() - this.lastCheck);
        if (this.running && gap > 0) await new Promise((r) => setTimeout(r, gap));
      }
      if (!this.running) break;
      if (this.pending.size === 0) continue;
      // Dirty keys when there are some; on the interval, everything pending (a lost ping).
      const keys = this.dirty.size > 0 ? [...this.dirty] : [...this.pending.keys()];
      this.dirty.clear();
      this.lastCheck = Date.now();
      let settled: string[] = [];
      try {
        settled = await this.check(keys);
      } catch {
        this.checkErrors++;
        for (const k of keys) if (this.pending.has(k)) this.dirty.add(k);
      }
      const at = Date.now();
      for (const key of settled) {
        const w = this.pending.get(key);
        if (!w) continue;
        this.pending.delete(key);
        clearTimeout(w.timer);
        w.resolve({ ...w.committed, settledAt: at });
      }
    }
  }
}
