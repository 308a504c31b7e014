import type { Bus } from '@patchflow/bus';
import { actionLogEndpoints } from '@patchflow/contracts';
import type { HistoryQueries } from './history-queries.js';

/** Serves the action-log's request-reply endpoints (queue group: instances share requests). */
export function serveQueries(bus: Bus, queries: HistoryQueries): void {
  bus.serve(actionLogEndpoints.history, (r) => queries.history(r.patchId, r.limit, r.cursor));
  bus.serve(actionLogEndpoints.work, async (r) => ({ work: await queries.work(r.workId) }));
}
