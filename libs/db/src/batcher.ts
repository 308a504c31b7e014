/** Returned by `execute` in an item's place to fail that item alone. */
export class BatchItemError {
  constructor(readonly cause: unknown) {}
}

/**
 * Groups concurrent calls into batches: a call runs at once when fewer than `maxInFlight`
 * batches are running; otherwise it waits and leaves with the next batch (up to `maxBatch`).
 * A lone caller therefore never waits, and under load many callers share one round trip (one
 * statement and one commit: patch-status's transitions, the workflows' claims and results).
 *
 * `sameTurn`: a call that could run at once first waits for the calls made in the same turn of
 * the event loop (until `setImmediate`, microseconds): messages read together from the network —
 * a pulled batch, or one work item reaching every workflow of the workflow host — then share one
 * statement instead of the first two going alone.
 */
export class Batcher<I, O> {
  private queue: { item: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  private inFlight = 0;

  constructor(
    private readonly execute: (items: I[]) => Promise<(O | BatchItemError)[]>,
    private readonly options: { maxBatch: number; maxInFlight: number; sameTurn?: boolean },
  ) {}

  private gathering = false;

  run(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.options.sameTurn) return this.dispatch();
      if (this.gathering) return;
      this.gathering = true;
      setImmediate(() => {
        this.gathering = false;
        this.dispatch();
      });
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0 && this.inFlight < this.options.maxInFlight) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.inFlight += 1;
      this.execute(batch.map((b) => b.item))
        .then(
          (results) =>
            batch.forEach((b, i) => {
              const r = results[i];
              if (r instanceof BatchItemError) b.reject(r.cause);
              else b.resolve(r as O);
            }),
          (err: unknown) => batch.forEach((b) => b.reject(err)),
        )
        .finally(() => {
          this.inFlight -= 1;
          this.dispatch();
        });
    }
  }
}
