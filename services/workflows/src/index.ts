export { environmentOf, hostEnv, hostedWorkflows, ownVariablePrefix, parseHostEnv, type HostEnv } from './env.js';
export { startWorkflowHost, workflowDefinitions, type RunningWorkflowHost } from './host.js';
