export { startPatchStatus, start, type PatchStatusApp, type StartOptions } from './app.js';
export { PatchStatusEnv } from './env.js';
export { buildWork, PatchStatusService } from './patch-status-service.js';
export { TransitionStore } from './transition-store.js';
export { appRoleGrants } from './db-roles.js';
