import { z } from 'zod';
import { statusNames, type PatchStatus } from '@patchflow/contracts';

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

/** A key as it may be shown in an error: quoted, one line, short (it is not a secret, but it may be junk). */
const showKey = (k: string) => JSON.stringify(k.length > 40 ? `${k.slice(0, 40)}…` : k);

/**
 * Reads a `JIRA_STATUS_MAP` value (a JSON object patch status → Jira status name) merged over the
 * default, or the problems with it, each one line naming the bad entry (never a Jira status
 * name given). Used by the env schema, so a bad map stops the start like any bad variable.
 */
export function readJiraStatusMap(json: string): { ok: true; map: JiraStatusMap } | { ok: false; problems: string[] } {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    return { ok: false, problems: ['not valid JSON (expected an object of patch status → Jira status name)'] };
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    return { ok: false, problems: ['not a JSON object (expected patch status → Jira status name)'] };
  }
  const problems: string[] = [];
  const map: JiraStatusMap = {};
  for (const [key, value] of Object.entries(raw)) {
    if (!(statusNames as readonly string[]).includes(key)) {
      problems.push(`entry ${showKey(key)} is not a patch status (one of ${statusNames.join(', ')})`);
    } else if (typeof value !== 'string' || value.trim() === '') {
      problems.push(`entry ${showKey(key)} must map to a non-empty Jira status name`);
    } else {
      map[key as PatchStatus] = value;
    }
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, map: { ...defaultJiraStatusMap, ...map } };
}

/** `JIRA_STATUS_MAP` in the env schema: unset → the default map; a bad one → one issue per bad entry. */
export const jiraStatusMapVariable = z
  .string()
  .optional()
  .transform((json, ctx): JiraStatusMap => {
    if (json === undefined) return defaultJiraStatusMap;
    const read = readJiraStatusMap(json);
    if (read.ok) return read.map;
    for (const message of read.problems) ctx.addIssue({ code: 'custom', message });
    return z.NEVER;
  });

/** Reads a status map or throws its first problem (tests and callers outside the env). */
export function parseJiraStatusMap(json: string | undefined): JiraStatusMap {
  if (!json) return defaultJiraStatusMap;
  const read = readJiraStatusMap(json);
  if (!read.ok) throw new Error(`JIRA_STATUS_MAP: ${read.problems.join('; ')}`);
  return read.map;
}
