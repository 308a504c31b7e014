export { environmentOf, hostEnv, hostedWorkflows, parseHostEnv, type HostEnv } from './env.js';
export { startWorkflowHost, workflowDefinitions, type RunningWorkflowHost } from './host.js';
