export { startActionLog, type ActionLogOptions, type RunningActionLog } from './app.js';
export { actionLogEnv, policyFromEnv, type ActionLogEnv } from './env.js';
export { openActionLogOrm, type ActionLogOrm } from './orm.js';
export { rebuildActionLog, type RebuildProgress, type RebuildReport } from './rebuild.js';
export { projectionTables, type ParkedMessage, type ParkReason } from './entities/index.js';
export { ParkedMessages } from './parked-messages.js';
export { defaultPoisonPolicy, poisonPolicy, type PoisonPolicy } from './poison-policy.js';
