import { runWorkflowProcess } from '@patchflow/workflow-runtime';
import { successorWorkflow } from './app.js';

// Composition root of the successor workflow as its own process (npm start -- --separate-workflows,
// one container per workflow); the workflow host (services/workflows) runs it with the others.
await runWorkflowProcess(successorWorkflow);
