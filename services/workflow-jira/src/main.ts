import { runWorkflowProcess } from '@patchflow/workflow-runtime';
import { jiraWorkflow } from './app.js';

// Composition root of the jira workflow as its own process (npm start -- --separate-workflows,
// one container per workflow); the workflow host (services/workflows) runs it with the others.
await runWorkflowProcess(jiraWorkflow);
