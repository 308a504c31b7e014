import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import { actionLogEndpoints, type WorkflowEvent } from '@patchflow/contracts';
import { waitFor } from '@patchflow/testing';
import { actionLogUnderTest, execution, step, workItem } from './fixtures.js';

const actionLog = actionLogUnderTest({ database: 'action_log_text', namespace: 'altext' });

// The projection inlines its rows as SQL string literals (projection.ts): every character that
// means something to SQL or JSON must come back exactly as published.
it('stores text with quotes, backslashes and non-ASCII exactly as published', async () => {
  const tricky = `it's a \\ back\\'slash " quote ''; drop table action_log_step; -- $$ $json$ \\u0041 é 漢 🚀\n\ttab`;
  const work = workItem(randomUUID(), 'markActive', 'draft', 'active', 2);
  work.transition = { ...work.transition, reason: tricky };
  const s = {
    ...step(work, 'gitlab', 'triggerPipeline'),
    message: tricky,
    metadata: { [tricky]: [tricky, 1, null, { nested: tricky }] },
  };
  const failed = execution(work, 'jira', 'failed', 1, { error: tricky, willRetry: true });
  await actionLog.publishWork(work);
  for (const e of [s, failed] as WorkflowEvent[]) await actionLog.publishEvent(e);
  const history = await waitFor(
    async () => {
      const h = await actionLog.bus.call(actionLogEndpoints.history, { patchId: work.patch.id });
      const entry = h.entries[0];
      return entry?.executions.some((x) => x.steps.length > 0) && entry.executions.some((x) => x.lastError) ? entry : undefined;
    },
    { what: 'the tricky messages to be projected' },
  );
  expect(history.transition?.reason).toBe(tricky);
  const gitlab = history.executions.find((x) => x.workflow === 'gitlab');
  expect(gitlab?.steps[0]?.message).toBe(tricky);
  expect(gitlab?.steps[0]?.metadata).toEqual(s.metadata);
  expect(history.executions.find((x) => x.workflow === 'jira')?.lastError).toBe(tricky);
});
