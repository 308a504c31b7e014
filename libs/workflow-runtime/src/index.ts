export { ActionLogger, type Subaction } from './action-logger.js';
export { checkWorkflowEnv, requireAllOrNone, retryPolicyFromEnv, workflowEnv, type WorkflowEnv } from './env.js';
export { errorMessage, NotConfigured, PermanentError, TransientError } from './errors.js';
export {
  errorCodeKind,
  failureKind,
  httpStatusKind,
  parseRetryAfter,
  RetryPolicy,
  RetryPolicyError,
  retryPolicyEnvNames,
  type FailureKind,
  type RetryPolicyOptions,
} from './retry-policy.js';
export { handlerTableMismatches, routedHandlers } from './routed-handlers.js';
export { ExecutionStore, type ClaimResult, type ExecutionRow, type ExternalRef } from './execution-store.js';
export { createHttpClient, type HttpClient, type HttpRequest, type HttpResponse } from './http-client.js';
export {
  startWorkflowService,
  workflowOptionsFromEnv,
  type RunningWorkflowService,
  type WorkflowServiceOptions,
} from './start-workflow-service.js';
export {
  noOp,
  NoOpWorkflowService,
  type ActionWorkflowService,
  type ExecutionContext,
  type StepLogger,
  type WorkflowHandlers,
  type WorkflowInput,
  type WorkflowResult,
} from './workflow-service.js';
export { WorkflowRuntime, type WorkflowRuntimeOptions } from './workflow-runtime.js';
export { defineWorkflow, runWorkflowProcess, type WorkflowDefinition } from './workflow-process.js';
