export { WorkRecordSchema, type WorkRecord } from './work-record.js';
export { ExecutionRecordSchema, type ExecutionRecord } from './execution-record.js';
export { ExecutionEventRecordSchema, type ExecutionEventRecord } from './execution-event-record.js';
export { StepRecordSchema, type StepRecord } from './step-record.js';
export { ParkedMessageSchema, parkReasons, type ParkedMessage, type ParkReason } from './parked-message.js';

import { WorkRecordSchema } from './work-record.js';
import { ExecutionRecordSchema } from './execution-record.js';
import { ExecutionEventRecordSchema } from './execution-event-record.js';
import { StepRecordSchema } from './step-record.js';
import { ParkedMessageSchema } from './parked-message.js';

export const entities = [
  WorkRecordSchema,
  ExecutionRecordSchema,
  ExecutionEventRecordSchema,
  StepRecordSchema,
  ParkedMessageSchema,
];

/**
 * Every table of the projection (the rebuild empties them). Not `parked_message`: it is the
 * operators' record, and the rebuild retries and re-parks its messages itself.
 */
export const projectionTables = ['action_log_step', 'action_log_execution_event', 'action_log_execution', 'action_log_work'];
