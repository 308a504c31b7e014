export { startSlackWorkflow, slackWorkflow, type SlackWorkflowOptions } from './app.js';
export { slackEnv, type SlackEnv } from './env.js';
export { transitionMessage, type SlackMessage } from './slack-message.js';
