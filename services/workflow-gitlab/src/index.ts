export { startGitlabWorkflow, gitlabWorkflow, type GitlabWorkflowOptions } from './app.js';
export { gitlabConfigFromEnv, gitlabEnv, type GitlabEnv } from './env.js';
export type { GitlabConfig } from './gitlab-trigger.js';
