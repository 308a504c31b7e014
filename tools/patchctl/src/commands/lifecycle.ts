import { lifecycle, workflowsFor } from '@patchflow/contracts';
import type { Context } from '../context.js';

/**
 * `lifecycle`: the patch lifecycle as contracts/ defines it (statuses, actions with from/to, roles,
 * required fields, the workflows each action's work is routed to), as a table, JSON or Mermaid.
 * Needs no connection.
 */
export async function lifecycleCommand(ctx: Context, o: { mermaid?: boolean }): Promise<void> {
  if (o.mermaid) {
    process.stdout.write(`${lifecycle.toMermaid()}\n`);
    return;
  }
  if (ctx.json)
    return ctx.printJson({
      initialStatus: lifecycle.initialStatus,
      statuses: lifecycle.statuses,
      actions: lifecycle.actions.map((a) => ({ ...a, workflows: workflowsFor(a.name) })),
    });
  ctx.say(`Statuses (initial: ${lifecycle.initialStatus})`);
  ctx.table(
    ['STATUS', 'LABEL', 'TERMINAL'],
    lifecycle.statuses.map((s) => [s.name, s.label, s.terminal ? 'yes' : '']),
  );
  ctx.say('\nActions');
  ctx.table(
    ['ACTION', 'FROM', 'TO', 'ROLES', 'REQUIRES', 'WORKFLOWS'],
    lifecycle.actions.map((a) => [
      a.name,
      a.from.join(' | '),
      a.to,
      a.roles.join(', '),
      a.requiredFields.join(', ') || null,
      workflowsFor(a.name).join(', ') || null,
    ]),
  );
}
