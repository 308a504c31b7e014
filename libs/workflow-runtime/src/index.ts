export { ActionLogger, type Subaction } from './action-logger.js';
export { parseRetryAfter, retryDelayMs, type RetryPolicy } from './backoff.js';
export { workflowEnv, type WorkflowEnv } from './env.js';
export { errorMessage, failureKind, NotConfigured, PermanentError, TransientError, type FailureKind } from './errors.js';
export { ExecutionStore, type ClaimResult, type ExecutionRow, type ExternalRef } from './execution-store.js';
export { createHttpClient, type HttpClient, type HttpRequest, type HttpResponse } from './http-client.js';
export {
  defaultRetryPolicy,
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
  type WorkflowHandlers,
  type WorkflowInput,
  type WorkflowResult,
} from './workflow-service.js';
export { WorkflowRuntime, type WorkflowRuntimeOptions } from './workflow-runtime.js';
