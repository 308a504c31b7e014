import { ContractError, patchEndpoints, type CreatePatchResult, type ErrorCode } from '@patchflow/contracts';
import type { Bus } from '@patchflow/bus';
import { PermanentError, TransientError } from '@patchflow/workflow-runtime';

export interface SuccessorRequest {
  name: string;
  product: string;
  predecessorId: string;
  idempotencyKey: string;
  actor: string;
}

/**
 * Port to patch-status's create endpoint (request-reply). Idempotent: the same key — or the same
 * predecessor — answers with the patch created first (`replayed`). Error replies are mapped onto
 * the workflow error kinds.
 */
export class PatchStatusClient {
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
      throw retryable(err.code) ? new TransientError(message, undefined, { cause: err }) : new PermanentError(message, { cause: err });
    }
  }
}

function retryable(code: ErrorCode): boolean {
  switch (code) {
    case 'timeout':
    case 'unavailable':
    case 'internal':
    case 'version_conflict':
      return true;
    case 'validation_failed':
    case 'not_found':
    case 'invalid_transition':
    case 'idempotency_key_reused':
    case 'forbidden':
    case 'unauthorized':
      return false;
    default: {
      const never: never = code;
      throw new Error(`unknown error code ${String(never)}`);
    }
  }
}
