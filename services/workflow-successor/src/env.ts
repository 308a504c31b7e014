import { z } from 'zod';
import { envInt } from '@patchflow/config';
import { checkWorkflowEnv, workflowEnv } from '@patchflow/workflow-runtime';

export const successorEnv = z
  .object({
    /** NATS, namespace, log level, the workflows' database, retry and ack-wait tuning (see libs/workflow-runtime). */
    ...workflowEnv,
    /** How long to wait for patch-status to answer the create request. */
    PATCH_STATUS_TIMEOUT_MS: envInt(100, 120_000).default(5000),
  })
  .superRefine(checkWorkflowEnv);
export type SuccessorEnv = z.infer<typeof successorEnv>;
