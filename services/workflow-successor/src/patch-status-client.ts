import { ContractError, patchEndpoints, type CreatePatchResult } from '@patchflow/contracts';
import type { Bus } from '@patchflow/bus';
import { errorCodeKind, PermanentError, TransientError } from '@patchflow/workflow-runtime';

export interface SuccessorRequest {
  name: string;
  product: string;
  predecessorId: string;
  idempotencyKey: string;
  actor: string;
}

/**
 * Port: asks patch-status to open a successor. Idempotent: the same key — or the same
 * predecessor — answers with the patch created first (`replayed`).
 */
export interface SuccessorCreator {
  createSuccessor(req: SuccessorRequest): Promise<CreatePatchResult>;
}

/**
 * patch-status's create endpoint (request-reply). Idempotent: the same key — or the same
 * predecessor — answers with the patch created first (`replayed`). Error replies are mapped onto
 * the workflow error kinds by the retry policy (`errorCodeKind`).
 */
export class PatchStatusClient implements SuccessorCreator {
  constructor(
    private readonly bus: Bus,
    private readonly timeoutMs: number,
  ) {}

  async createSuccessor(req: SuccessorRequest): Promise<CreatePatchResult> {
    try {
      return await this.bus.call(patchEndpoints.create, req, { timeoutMs: this.timeoutMs });
    } catch (err) {
      if (!(err instanceof ContractError)) throw err;
      const message = `patch-status create: ${err.code}: ${err.message}`;
      throw errorCodeKind(err.code) === 'transient'
        ? new TransientError(message, undefined, { cause: err })
        : new PermanentError(message, { cause: err });
    }
  }
}
