import { actionLogEndpoints } from './action-log-messages.js';
import { patchEndpoints, type Endpoint } from './endpoints.js';
import { workflowNames, type WorkflowName } from './routing.js';
import type { ConsumerDefinition, StreamKey, Topology } from './topology.js';
import { patchStatusOpsEndpoints, workflowOpsEndpoints } from './workflow-ops.js';

/**
 * Who may say what on the bus (DESIGN.md "Who may say what"), derived from the catalogs in this
 * package so that a new endpoint, stream or consumer cannot be forgotten: `npm run nats:config`
 * turns it into a NATS server configuration with one user per principal.
 */
export const busPrincipals = [
  'gateway',
  'patch-status',
  'action-log',
  ...workflowNames.map((w) => `workflow-${w}` as const),
  'ops',
] as const;
export type BusPrincipal = (typeof busPrincipals)[number];

export interface BusPermissions {
  /** Subjects this principal may publish to (requests, JetStream API calls, acks, events). */
  publish: string[];
  /** Subjects it may subscribe to (the endpoints it answers, its own inbox, pings). */
  subscribe: string[];
  /** May answer the requests it receives (publish to their reply subjects, once each). */
  allowResponses: boolean;
  /** Its reply subjects' prefix: only its own inbox is readable to it. */
  inboxPrefix: string;
}

/** The inbox prefix of a principal (a token of letters, digits and "-"). */
export const inboxPrefixOf = (principal: BusPrincipal): string => `_INBOX_${principal}`;

const JS = '$JS.API';

/** Checking that JetStream is there (every Bus connects a JetStream manager). */
const jsAccountInfo = `${JS}.INFO`;

function streamInfo(t: Topology, keys: StreamKey[]): string[] {
  return keys.map((k) => `${JS}.STREAM.INFO.${t.streams[k].name}`);
}

/** Create/update, read and pull from one durable consumer, and settle its messages. */
function durableConsumer(c: ConsumerDefinition): string[] {
  return [
    `${JS}.CONSUMER.INFO.${c.stream}.${c.durableName}`,
    `${JS}.CONSUMER.CREATE.${c.stream}.${c.durableName}`,
    `${JS}.CONSUMER.CREATE.${c.stream}.${c.durableName}.>`,
    `${JS}.CONSUMER.DURABLE.CREATE.${c.stream}.${c.durableName}`,
    `${JS}.CONSUMER.MSG.NEXT.${c.stream}.${c.durableName}`,
    `$JS.ACK.${c.stream}.${c.durableName}.>`,
  ];
}

const subjectsOf = (t: Topology, endpoints: Record<string, Endpoint>) => Object.values(endpoints).map((e) => e.subject(t));

function workflowPermissions(t: Topology, w: WorkflowName): Omit<BusPermissions, 'inboxPrefix'> {
  return {
    publish: [
      jsAccountInfo,
      ...streamInfo(t, ['work', 'workflowEvents', 'deadLetters']),
      // An operator's replay or retry names work by id; the workflow reads it from the stream itself.
      `${JS}.STREAM.MSG.GET.${t.streams.work.name}`,
      ...durableConsumer(t.workflowConsumer(w)),
      t.step(w),
      t.execution(w),
      t.deadLetter(w),
      // The successor asks patch-status for the next patch; no other workflow talks to it.
      ...(w === 'successor' ? [patchEndpoints.create.subject(t)] : []),
    ],
    subscribe: [...subjectsOf(t, workflowOpsEndpoints(w)), t.instancePing],
    allowResponses: true,
  };
}

/** The permission matrix for one bus namespace (empty in production). */
export function busPermissions(t: Topology): Record<BusPrincipal, BusPermissions> {
  const { work, events } = t.actionLogConsumers();
  const matrix: Record<BusPrincipal, Omit<BusPermissions, 'inboxPrefix'>> = {
    gateway: {
      publish: [
        jsAccountInfo,
        ...subjectsOf(t, patchEndpoints),
        ...subjectsOf(t, actionLogEndpoints),
        // The UI's repair routes (operator and admin roles, checked by the gateway): retry one
        // execution, a forced replay, and what needs attention — no list, discard or bulk retry.
        ...workflowNames.flatMap((w) => {
          const ops = workflowOpsEndpoints(w);
          return [ops.retryExecution, ops.replay, ops.attention].map((e) => e.subject(t));
        }),
      ],
      subscribe: [t.allActionLogUpdates, t.instancePing],
      // Only to answer the instance ping: the gateway serves no other request on the bus.
      allowResponses: true,
    },
    'patch-status': {
      publish: [jsAccountInfo, ...streamInfo(t, ['work']), t.allWork],
      subscribe: [...subjectsOf(t, patchEndpoints), ...subjectsOf(t, patchStatusOpsEndpoints), t.instancePing],
      allowResponses: true,
    },
    'action-log': {
      publish: [
        jsAccountInfo,
        ...streamInfo(t, ['work', 'workflowEvents']),
        ...durableConsumer(work),
        ...durableConsumer(events),
        t.allActionLogUpdates,
      ],
      subscribe: [...subjectsOf(t, actionLogEndpoints), t.instancePing],
      allowResponses: true,
    },
    'workflow-successor': workflowPermissions(t, 'successor'),
    'workflow-gitlab': workflowPermissions(t, 'gitlab'),
    'workflow-jira': workflowPermissions(t, 'jira'),
    'workflow-slack': workflowPermissions(t, 'slack'),
    // Operators administer streams and consumers, read any stream (replay, rebuild) and call the
    // workflows' and patch-status's ops endpoints, and ping every instance (which every service
    // answers). They never take transitions or publish work and events by hand: a replay asks the
    // workflow, which reads the work from the stream itself.
    ops: {
      publish: [`${JS}.>`, t.workflowOpsWildcard, ...subjectsOf(t, patchStatusOpsEndpoints), t.instancePing],
      subscribe: ['$JS.EVENT.>'],
      allowResponses: false,
    },
  };
  return Object.fromEntries(
    Object.entries(matrix).map(([p, perms]) => {
      const inboxPrefix = inboxPrefixOf(p as BusPrincipal);
      return [p, { ...perms, subscribe: [...perms.subscribe, `${inboxPrefix}.>`], inboxPrefix }];
    }),
  ) as Record<BusPrincipal, BusPermissions>;
}
