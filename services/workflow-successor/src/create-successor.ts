import type { ActionWorkflowService, WorkflowInput, WorkflowResult } from '@patchflow/workflow-runtime';
import { nextPatchName } from './next-patch-name.js';
import type { SuccessorCreator } from './patch-status-client.js';

/** The actor patch-status records as the successor's creator. */
export const SUCCESSOR_ACTOR = 'workflow-successor';

/**
 * Opens the patch's successor (next name, same product, `predecessorId` = the patch). The work id
 * is the idempotency key and patch-status keeps one successor per predecessor, so however often
 * this runs — redelivery, replay, a second startDeployment — the patch has exactly one successor.
 */
export class CreateSuccessor implements ActionWorkflowService {
  constructor(private readonly patchStatus: SuccessorCreator) {}

  async execute({ work, patch, logger }: WorkflowInput): Promise<WorkflowResult> {
    const name = nextPatchName(patch.name);
    const { patch: successor, replayed } = await this.patchStatus.createSuccessor({
      name,
      product: patch.product,
      predecessorId: patch.id,
      idempotencyKey: work.workId,
      actor: SUCCESSOR_ACTOR,
    });
    await logger.step(
      'createSuccessor',
      replayed
        ? `successor ${successor.product} ${successor.name} already existed`
        : `created successor ${successor.product} ${successor.name}`,
      { successorId: successor.id, successorName: successor.name, replayed },
    );
    // Stored with the success: the create is idempotent by itself, so the ids need no write of their own.
    return { status: 'succeeded', externalRef: { successorId: successor.id, successorName: successor.name } };
  }
}
