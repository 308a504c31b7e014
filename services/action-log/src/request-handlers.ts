import type { Bus } from '@patchflow/bus';
import { actionLogEndpoints, ContractError } from '@patchflow/contracts';
import { isDatabaseUnavailable } from '@patchflow/db';
import type { HistoryQueries } from './history-queries.js';

/** Serves the action-log's request-reply endpoints (queue group: instances share requests). */
export function serveQueries(bus: Bus, queries: HistoryQueries): void {
  bus.serve(actionLogEndpoints.history, (r) => unlessDatabaseGone(() => queries.history(r.patchId, r.limit, r.cursor)));
  bus.serve(actionLogEndpoints.work, (r) => unlessDatabaseGone(async () => ({ work: await queries.work(r.workId) })));
  bus.serve(actionLogEndpoints.failureCounts, (r) => unlessDatabaseGone(() => queries.failureCounts(r.patchIds)));
  bus.serve(actionLogEndpoints.failingPatches, (r) => unlessDatabaseGone(() => queries.failingPatches(r.limit)));
}

/** Postgres restarting or dropping connections is `unavailable` to the caller (HTTP 503), not `internal`. */
async function unlessDatabaseGone<T>(query: () => Promise<T>): Promise<T> {
  try {
    return await query();
  } catch (err) {
    if (err instanceof ContractError || !isDatabaseUnavailable(err)) throw err;
    throw new ContractError('unavailable', 'the action-log database is unavailable; retry shortly', undefined, { cause: err });
  }
}
