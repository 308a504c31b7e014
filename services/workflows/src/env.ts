import { z } from 'zod';
import { commonEnv, EnvError, ownVariableOf, ownVariablePrefix, parseEnv, tracingEnv } from '@patchflow/config';
import { workflowNames, type WorkflowName } from '@patchflow/contracts';
import type { WorkflowDefinition } from '@patchflow/workflow-runtime';

const isWorkflowName = (name: string): name is WorkflowName => (workflowNames as readonly string[]).includes(name);

/**
 * The workflow host's own variables. Everything else is each workflow's, read as that workflow
 * would read it in its own process — except that `WORKFLOW_<NAME>__<VARIABLE>` sets `<VARIABLE>`
 * for that workflow alone: above all its NATS credentials (`WORKFLOW_GITLAB__NATS_USER`, …), so
 * each workflow still speaks for itself on the bus, but any of its variables may differ (e.g.
 * `WORKFLOW_JIRA__WORKFLOW_CONCURRENCY=4`).
 */
export const hostEnv = z.object({
  /** Which workflows this process runs, comma-separated (default all four). */
  WORKFLOWS: z
    .string()
    .transform((s, ctx) => {
      const names = s
        .split(',')
        .map((n) => n.trim())
        .filter(Boolean);
      const unknown = names.filter((n) => !isWorkflowName(n));
      if (names.length === 0 || unknown.length > 0) {
        ctx.addIssue({
          code: 'custom',
          message: `${unknown.length > 0 ? `no workflow named ${unknown.map((n) => JSON.stringify(n)).join(', ')}` : 'names no workflow'}; choose from ${workflowNames.join(', ')}`,
        });
        return z.NEVER;
      }
      const twice = names.filter((n, i) => names.indexOf(n) !== i);
      if (twice.length > 0) {
        ctx.addIssue({ code: 'custom', message: `names ${[...new Set(twice)].join(', ')} twice` });
        return z.NEVER;
      }
      return names.filter(isWorkflowName);
    })
    .default([...workflowNames]),
  LOG_LEVEL: commonEnv.LOG_LEVEL,
  /** One tracer for the process: the executions' spans carry `service.name` `workflows`. */
  ...tracingEnv,
});
export type HostEnv = z.infer<typeof hostEnv>;

/** The environment one hosted workflow reads: the process's, with its own `WORKFLOW_<NAME>__*` over it. */
export function environmentOf(workflow: WorkflowName, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const prefix = ownVariablePrefix(workflow);
  const own = Object.entries(env)
    // Empty counts as unset (parseEnv's rule): it overrides nothing.
    .filter(([name, value]) => name.startsWith(prefix) && value !== undefined && value !== '')
    .map(([name, value]) => [name.slice(prefix.length), value]);
  return { ...env, ...Object.fromEntries(own) };
}

/**
 * The host's variables and every hosted workflow's environment, checked before anything starts:
 * one EnvError listing every problem, each line naming the workflow and the variable (never a
 * value). A `WORKFLOW_<NAME>__*` variable naming no workflow, or not one of that workflow's
 * variables, is a mistake (a typo would otherwise leave a workflow on the shared credentials);
 * one of a workflow this host does not run is ignored (one credentials file serves any WORKFLOWS).
 */
export function parseHostEnv(
  env: NodeJS.ProcessEnv,
  definitions: Record<WorkflowName, WorkflowDefinition>,
): { host: HostEnv; environments: Map<WorkflowName, NodeJS.ProcessEnv> } {
  const host = parseEnv(hostEnv, env);
  const problems: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    const own = ownVariableOf(name);
    if (!own || value === undefined || value === '') continue;
    const { workflow, variable } = own;
    if (!isWorkflowName(workflow)) {
      problems.push(`  ${name}: no workflow named ${workflow}; choose from ${workflowNames.join(', ')}`);
    } else if (!(variable in definitions[workflow].env.shape)) {
      problems.push(`  ${name}: ${variable || '(empty)'} is not a variable of workflow-${workflow}`);
    }
  }
  const environments = new Map<WorkflowName, NodeJS.ProcessEnv>();
  for (const workflow of host.WORKFLOWS) {
    const own = environmentOf(workflow, env);
    try {
      parseEnv(definitions[workflow].env, own);
    } catch (err) {
      if (!(err instanceof EnvError)) throw err;
      const lines = err.message.split('\n').slice(1);
      problems.push(...lines.map((l) => `  workflow-${workflow}: ${l.trim()}`));
    }
    environments.set(workflow, own);
  }
  if (problems.length > 0) throw new EnvError(`invalid environment:\n${problems.join('\n')}`);
  return { host, environments };
}

/** The workflows WORKFLOWS names (all four when unset); an EnvError naming it when it is wrong. */
export function hostedWorkflows(env: NodeJS.ProcessEnv): WorkflowName[] {
  return parseEnv(z.object({ WORKFLOWS: hostEnv.shape.WORKFLOWS }), env).WORKFLOWS;
}
