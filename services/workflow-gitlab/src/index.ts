export { startGitlabWorkflow, type GitlabWorkflowOptions } from './app.js';
export { gitlabEnv, type GitlabEnv } from './env.js';
export type { GitlabConfig } from './gitlab-trigger.js';
