import type { z } from 'zod';
import { exitWithHelpIfAsked, HealthServer, parseEnv, startOrExit, stopOnSignals } from '@patchflow/config';
import type { WorkflowName } from '@patchflow/contracts';
import type { WorkflowEnv } from './env.js';
import { workflowOptionsFromEnv, type RunningWorkflowService, type WorkflowServiceOptions } from './start-workflow-service.js';

/**
 * What a workflow package tells whoever runs it — its own process (`runWorkflowProcess`, each
 * package's main.ts) or the workflow host that runs several in one process (services/workflows):
 * its name, what it does, its environment and how it starts from that environment.
 */
export interface WorkflowDefinition {
  workflow: WorkflowName;
  /** One line: what it does (its `--help`). */
  summary: string;
  /** Its environment, validated at start (the runtime's variables and its external system's). */
  env: z.ZodObject;
  /**
   * Validates `env` (an EnvError naming every wrong variable, nothing started) and starts the
   * workflow; `overrides` replace options read from it (the host starts tracing once for all).
   */
  start(env: NodeJS.ProcessEnv, overrides?: Partial<WorkflowServiceOptions>): Promise<RunningWorkflowService>;
}

/**
 * A workflow's definition from its schema and how it starts from the parsed variables and the
 * runtime options read from them (`workflowOptionsFromEnv`).
 */
export function defineWorkflow<S extends z.ZodObject & z.ZodType<WorkflowEnv>>(definition: {
  workflow: WorkflowName;
  summary: string;
  env: S;
  start: (env: z.infer<S>, runtime: WorkflowServiceOptions) => Promise<RunningWorkflowService>;
}): WorkflowDefinition {
  return {
    workflow: definition.workflow,
    summary: definition.summary,
    env: definition.env,
    start: async (raw, overrides = {}) => {
      const env = parseEnv(definition.env, raw);
      const runtime = { ...workflowOptionsFromEnv(definition.workflow, env), ...overrides };
      return definition.start(env, runtime);
    },
  };
}

/**
 * The main of a workflow that runs as its own process: `--help`, the health port first (/readyz
 * answers 503 "starting" until the consumer runs), the workflow, ready while NATS is connected
 * (the consumer pulls through it); SIGTERM/SIGINT stop it (stop pulling, finish or nak
 * in-flight work, drain the bus, close the database pool).
 */
export async function runWorkflowProcess(definition: WorkflowDefinition): Promise<void> {
  const name = `workflow-${definition.workflow}`;
  exitWithHelpIfAsked(`${name} — ${definition.summary}

Usage: npm start -w @patchflow/${name}
(npm start runs it inside the workflow host, services/workflows; npm start -- --separate-workflows on its own)

Environment: ${Object.keys(definition.env.shape).join(', ')}
(see services/${name}/README.md and src/env.ts).`);
  const health = await startOrExit(name, () => HealthServer.start(process.env, name));
  const service = await startOrExit(name, () => definition.start(process.env));
  health.readyWhenAll({ 'NATS is not reachable': () => service.bus.isConnected });
  stopOnSignals(() => health.whileStopping(() => service.stop()), service.logger);
}
