import { STEP_LINK_KEY } from '@patchflow/contracts';
import {
  NotConfigured,
  PermanentError,
  type ActionWorkflowService,
  type WorkflowInput,
  type WorkflowResult,
} from '@patchflow/workflow-runtime';
import type { IssuePositions } from './issue-positions.js';
import type { JiraIssues } from './jira-client.js';
import { transitionComment } from './jira-comment.js';
import type { JiraStatusMap } from './jira-status-map.js';

// One collator for every comparison: `localeCompare` with options builds a new one per call.
const statusCollator = new Intl.Collator(undefined, { sensitivity: 'accent' });
const same = (a: string, b: string) => statusCollator.compare(a, b) === 0;

/**
 * Moves the patch's Jira issue to the status mapped from the patch's new status, then comments.
 * Each done step is recorded (`transitionedTo` or `moveSkipped`, then `commentId`), so a rerun
 * continues where the last attempt stopped; an issue already in the target status is left alone.
 * One read before the move: the issue's status and its available transitions come together.
 *
 * Never backwards: the move runs under `positions.guard`, so a move of an older transition of the
 * patch (markActive retried after a Jira 503) is skipped once a newer one (startDeployment) has
 * moved the issue. The older transition still gets its comment: it did happen.
 *
 * Every step links the issue (`link`: JIRA_URL/browse/KEY), shown in the history.
 */
export class MoveIssue implements ActionWorkflowService {
  constructor(
    private readonly jira: JiraIssues,
    private readonly statusMap: JiraStatusMap,
    private readonly positions: IssuePositions,
  ) {}

  async execute({ work, patch, logger, execution, signal }: WorkflowInput): Promise<WorkflowResult> {
    if (!this.jira.configured) throw new NotConfigured('JIRA_URL, JIRA_EMAIL and JIRA_API_TOKEN are not all set');
    const key = patch.jiraKey;
    if (!key) return { status: 'skipped', reason: 'the patch has no jiraKey' };
    const target = this.statusMap[work.transition.toStatus];
    if (!target) return { status: 'skipped', reason: `no Jira status is mapped for patch status ${work.transition.toStatus}` };
    const ref = execution.externalRef;
    const issueLink = this.jira.issueLink?.(key);
    const linked = issueLink ? { [STEP_LINK_KEY]: issueLink } : {};

    if (ref.transitionedTo === undefined && ref.moveSkipped === undefined) {
      let alreadyThere = false;
      const outcome = await this.positions.guard(
        { jiraKey: key, patchId: patch.id, patchVersion: work.transition.patchVersion, action: work.transition.action },
        async () => {
          const { status: current, transitions } = await this.jira.issueState(key, signal);
          if (same(current, target)) {
            alreadyThere = true;
            await logger.step('alreadyInStatus', `Jira issue ${key} is already in "${target}"`, {
              jiraKey: key,
              status: current,
              ...linked,
            });
            return { status: current };
          }
          const match = transitions.find((t) => same(t.toStatus, target));
          if (!match) {
            const available = transitions.map((t) => `"${t.name}" → "${t.toStatus}"`).join(', ') || 'none';
            throw new PermanentError(
              `Jira issue ${key} in "${current}" has no transition to "${target}" (available: ${available})`,
            );
          }
          await this.jira.transition(key, match.id, signal);
          // Each id and its step together (libs/workflow-runtime/README.md says why that is safe).
          await Promise.all([
            execution.recordExternalRef({ transitionedTo: target, transitionId: match.id }),
            logger.step('transitionIssue', `moved Jira issue ${key} from "${current}" to "${target}"`, {
              jiraKey: key,
              from: current,
              to: target,
              transitionId: match.id,
              ...linked,
            }),
          ]);
          return { status: target };
        },
      );
      if (alreadyThere) return { status: 'skipped', reason: `Jira issue ${key} is already in "${target}"` };
      if (outcome.kind === 'newer') {
        const newer = outcome.position;
        await Promise.all([
          execution.recordExternalRef({ moveSkipped: { newerPatchVersion: newer.patchVersion, newerAction: newer.action } }),
          logger.step(
            'moveSkipped',
            `skipped: a newer transition (${newer.action}, version ${newer.patchVersion}) already moved ${key} to "${newer.status}"; not moving it back to "${target}"`,
            {
              jiraKey: key,
              target,
              newerPatchVersion: newer.patchVersion,
              newerAction: newer.action,
              newerStatus: newer.status,
              ...linked,
            },
          ),
        ]);
      }
    }

    if (ref.commentId === undefined) {
      const commentId = await this.jira.addComment(key, transitionComment(work), signal);
      await Promise.all([
        execution.recordExternalRef({ commentId }),
        logger.step('commentIssue', `commented on Jira issue ${key}`, { jiraKey: key, commentId, ...linked }),
      ]);
    }
    return { status: 'succeeded' };
  }
}
