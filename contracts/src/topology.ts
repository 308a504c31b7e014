import type { ActionName } from './lifecycle-definition.js';
import type { WorkflowName } from './routing.js';

/**
 * Every NATS subject, stream and durable consumer of Patchflow is spelled here and only here.
 *
 * A namespace (env `BUS_NAMESPACE`, empty in production) prefixes every subject and stream name so
 * that several isolated systems — one per test file — can share one NATS server without their
 * streams' subjects overlapping (JetStream refuses overlapping streams).
 */
export const baseSubjects = {
  patchCreate: 'patch.v1.create',
  patchGet: 'patch.v1.get',
  patchList: 'patch.v1.list',
  patchTransition: 'patch.v1.transition',
  patchHistory: 'patch.v1.history',
  /** `patch.work.v1.<action>`: one work item per committed transition. */
  workPrefix: 'patch.work.v1',
  /** `workflow.v1.step.<workflow>`: one logged step of an execution. */
  stepPrefix: 'workflow.v1.step',
  /** `workflow.v1.execution.<workflow>`: an execution started / succeeded / failed. */
  executionPrefix: 'workflow.v1.execution',
  /** `workflow.v1.deadletter.<workflow>`: work a workflow gave up on, kept for operators. */
  deadLetterPrefix: 'workflow.v1.deadletter',
  /** `workflow.v1.ops.<workflow>.<op>`: operator requests to one workflow service. */
  workflowOpsPrefix: 'workflow.v1.ops',
  /** `patch.ops.v1.<op>`: operator requests to patch-status (the outbox). */
  patchStatusOpsPrefix: 'patch.ops.v1',
  actionLogHistory: 'actionlog.v1.history',
  actionLogWork: 'actionlog.v1.work',
  actionLogFailureCounts: 'actionlog.v1.failures.count',
  actionLogFailingPatches: 'actionlog.v1.failures.patches',
  /** `actionlog.v1.updated.<patchId>`: core NATS ping after the projection changed (live UI). */
  actionLogUpdatedPrefix: 'actionlog.v1.updated',
  /** Core NATS, no queue group: every instance of every service answers (contracts/src/instance-ping.ts). */
  instancePing: 'ops.v1.ping',
} as const;

export const baseStreams = {
  work: 'PATCHFLOW_WORK',
  workflowEvents: 'PATCHFLOW_WORKFLOW_EVENTS',
  deadLetters: 'PATCHFLOW_DEAD_LETTERS',
} as const;

export type StreamKey = keyof typeof baseStreams;

export interface StreamDefinition {
  name: string;
  subjects: string[];
  /** Seconds JetStream remembers a Nats-Msg-Id to drop a repeated publish. */
  duplicateWindowSeconds: number;
  /** Seconds a message is kept (0 = forever). */
  maxAgeSeconds: number;
  description: string;
  /**
   * Copies JetStream keeps, each on another server of the cluster (env `STREAM_REPLICAS`): 1 on a
   * single server, 3 on a 3-node cluster so a stream survives losing any one node.
   */
  replicas: number;
}

export interface ConsumerDefinition {
  stream: string;
  durableName: string;
  /** One subject: NATS 2.9 has no multi-subject filters. */
  filterSubject: string;
  ackWaitMs: number;
  maxDeliver: number;
  maxAckPending: number;
  /**
   * Copies of the consumer's state; 0 = the stream's replicas (NATS 2.9 places an R0 consumer on
   * its stream's peers, so it follows the stream when that is scaled).
   */
  replicas: number;
}

export interface TopologyOptions {
  /** JetStream replicas of every stream (1–5); see `StreamDefinition.replicas`. */
  replicas?: number;
}

const NAMESPACE_PATTERN = /^[a-z][a-z0-9_]{0,31}$/;

export class Topology {
  readonly namespace: string;
  readonly replicas: number;

  constructor(namespace = '', options: TopologyOptions = {}) {
    if (namespace !== '' && !NAMESPACE_PATTERN.test(namespace)) {
      throw new Error(`bus namespace "${namespace}" must match ${NAMESPACE_PATTERN} (or be empty)`);
    }
    const replicas = options.replicas ?? 1;
    // JetStream's own bound: a replicated stream needs a majority of at most 5 peers.
    if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) {
      throw new Error(`stream replicas must be an integer from 1 to 5, got ${replicas}`);
    }
    this.namespace = namespace;
    this.replicas = replicas;
  }

  private subject(base: string): string {
    return this.namespace ? `${this.namespace}.${base}` : base;
  }

  private streamName(base: string): string {
    return this.namespace ? `${this.namespace.toUpperCase()}_${base}` : base;
  }

  get subjects() {
    return {
      patchCreate: this.subject(baseSubjects.patchCreate),
      patchGet: this.subject(baseSubjects.patchGet),
      patchList: this.subject(baseSubjects.patchList),
      patchTransition: this.subject(baseSubjects.patchTransition),
      patchHistory: this.subject(baseSubjects.patchHistory),
      actionLogHistory: this.subject(baseSubjects.actionLogHistory),
      actionLogWork: this.subject(baseSubjects.actionLogWork),
      actionLogFailureCounts: this.subject(baseSubjects.actionLogFailureCounts),
      actionLogFailingPatches: this.subject(baseSubjects.actionLogFailingPatches),
    };
  }

  work(action: ActionName): string {
    return this.subject(`${baseSubjects.workPrefix}.${action}`);
  }
  get allWork(): string {
    return this.subject(`${baseSubjects.workPrefix}.>`);
  }
  /** The action a work subject is for (the last token), or undefined if not a work subject. */
  actionOfWorkSubject(subject: string): string | undefined {
    const prefix = this.subject(`${baseSubjects.workPrefix}.`);
    return subject.startsWith(prefix) ? subject.slice(prefix.length) : undefined;
  }

  step(workflow: WorkflowName): string {
    return this.subject(`${baseSubjects.stepPrefix}.${workflow}`);
  }
  execution(workflow: WorkflowName): string {
    return this.subject(`${baseSubjects.executionPrefix}.${workflow}`);
  }
  get allSteps(): string {
    return this.subject(`${baseSubjects.stepPrefix}.>`);
  }
  get allExecutions(): string {
    return this.subject(`${baseSubjects.executionPrefix}.>`);
  }
  deadLetter(workflow: WorkflowName): string {
    return this.subject(`${baseSubjects.deadLetterPrefix}.${workflow}`);
  }
  workflowOps(
    workflow: WorkflowName,
    op: 'deadletters.list' | 'deadletters.retry' | 'deadletters.discard' | 'execution.retry' | 'replay' | 'attention' | 'status',
  ): string {
    return this.subject(`${baseSubjects.workflowOpsPrefix}.${workflow}.${op}`);
  }
  /** Every workflow's operator endpoints (for the ops user). */
  get workflowOpsWildcard(): string {
    return this.subject(`${baseSubjects.workflowOpsPrefix}.>`);
  }
  /** Operator requests to patch-status (the outbox), answered by every instance's queue group. */
  patchStatusOps(op: 'outbox.list' | 'outbox.publish'): string {
    return this.subject(`${baseSubjects.patchStatusOpsPrefix}.${op}`);
  }
  actionLogUpdated(patchId: string): string {
    return this.subject(`${baseSubjects.actionLogUpdatedPrefix}.${patchId}`);
  }
  get allActionLogUpdates(): string {
    return this.subject(`${baseSubjects.actionLogUpdatedPrefix}.>`);
  }
  /** The instance ping: every running service process answers it (no queue group). */
  get instancePing(): string {
    return this.subject(baseSubjects.instancePing);
  }

  get streams(): Record<StreamKey, StreamDefinition> {
    return {
      work: {
        name: this.streamName(baseStreams.work),
        subjects: [this.allWork],
        // Long enough that the outbox relay's re-publish of an item whose first publish was not
        // recorded (crash, NATS blip) is still recognised as a duplicate.
        duplicateWindowSeconds: 600,
        maxAgeSeconds: 30 * 24 * 3600,
        description: 'Work items of committed patch transitions (transactional outbox)',
        replicas: this.replicas,
      },
      workflowEvents: {
        name: this.streamName(baseStreams.workflowEvents),
        subjects: [this.allSteps, this.allExecutions],
        duplicateWindowSeconds: 120,
        maxAgeSeconds: 0,
        description: 'Workflow execution results and step logs; the action-log projection replays it',
        replicas: this.replicas,
      },
      deadLetters: {
        name: this.streamName(baseStreams.deadLetters),
        subjects: [this.subject(`${baseSubjects.deadLetterPrefix}.>`)],
        duplicateWindowSeconds: 120,
        maxAgeSeconds: 0,
        description: 'Work items a workflow gave up on, with the reason, for operators to retry',
        replicas: this.replicas,
      },
    };
  }

  /** The durable pull consumer a workflow service shares among its instances. */
  workflowConsumer(workflow: WorkflowName): ConsumerDefinition {
    return {
      stream: this.streams.work.name,
      durableName: `workflow-${workflow}`,
      filterSubject: this.allWork,
      ackWaitMs: 30_000,
      maxDeliver: 10,
      maxAckPending: 1000,
      replicas: 0,
    };
  }

  /** The durable consumers the action-log projection reads with. */
  actionLogConsumers(): { work: ConsumerDefinition; events: ConsumerDefinition } {
    return {
      work: {
        stream: this.streams.work.name,
        durableName: 'action-log-work',
        filterSubject: this.allWork,
        ackWaitMs: 30_000,
        maxDeliver: -1,
        maxAckPending: 1000,
        replicas: 0,
      },
      events: {
        stream: this.streams.workflowEvents.name,
        durableName: 'action-log-events',
        filterSubject: this.subject('workflow.v1.>'),
        ackWaitMs: 30_000,
        maxDeliver: -1,
        maxAckPending: 1000,
        replicas: 0,
      },
    };
  }
}
