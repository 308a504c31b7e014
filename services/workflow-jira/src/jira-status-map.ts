import { z } from 'zod';
import { PatchStatusSchema, type PatchStatus } from '@patchflow/contracts';

/** Patch status → the Jira status its issue should move to. Unmapped statuses move nothing. */
export type JiraStatusMap = Partial<Record<PatchStatus, string>>;

/** The default board: a deployment hands the issue to QA; the end states close it. */
export const defaultJiraStatusMap: JiraStatusMap = {
  active: 'In Progress',
  in_deployment: 'Ready for QA',
  deployed: 'Done',
  deployment_failed: 'In Progress',
  closed: 'Done',
  cancelled: 'Done',
};

const StatusMapSchema = z.partialRecord(PatchStatusSchema, z.string().min(1));

/** Reads `JIRA_STATUS_MAP` (a JSON object); entries override the default, `""` keys are refused. */
export function parseJiraStatusMap(json: string | undefined): JiraStatusMap {
  if (!json) return defaultJiraStatusMap;
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new Error('JIRA_STATUS_MAP is not valid JSON');
  }
  const parsed = StatusMapSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`JIRA_STATUS_MAP: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return { ...defaultJiraStatusMap, ...parsed.data };
}
