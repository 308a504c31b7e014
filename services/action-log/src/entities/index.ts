export { WorkRecordSchema, type WorkRecord } from './work-record.js';
export { ExecutionRecordSchema, type ExecutionRecord } from './execution-record.js';
export { ExecutionEventRecordSchema, type ExecutionEventRecord } from './execution-event-record.js';
export { StepRecordSchema, type StepRecord } from './step-record.js';

import { WorkRecordSchema } from './work-record.js';
import { ExecutionRecordSchema } from './execution-record.js';
import { ExecutionEventRecordSchema } from './execution-event-record.js';
import { StepRecordSchema } from './step-record.js';

export const entities = [WorkRecordSchema, ExecutionRecordSchema, ExecutionEventRecordSchema, StepRecordSchema];

/** Every table of the projection (the rebuild empties them). */
export const projectionTables = ['action_log_step', 'action_log_execution_event', 'action_log_execution', 'action_log_work'];
