export { startActionLog, type ActionLogOptions, type RunningActionLog } from './app.js';
export { actionLogEnv, type ActionLogEnv } from './env.js';
export { openActionLogOrm, type ActionLogOrm } from './orm.js';
export { rebuildActionLog, type RebuildProgress, type RebuildReport } from './rebuild.js';
export { projectionTables } from './entities/index.js';
