import { z } from 'zod';
import {
  lifecycleDefinition,
  roleNames,
  transitionFieldNames,
  type ActionName,
  type PatchStatus,
  type Role,
  type TransitionField,
} from './lifecycle-definition.js';

const LifecycleSchema = z.object({
  initialStatus: z.string().min(1),
  statuses: z
    .array(z.object({ name: z.string().regex(/^[a-z][a-z_]*$/), label: z.string().min(1), terminal: z.boolean() }))
    .min(1),
  actions: z
    .array(
      z.object({
        name: z.string().regex(/^[a-z][a-zA-Z]*$/, 'action names are camelCase'),
        label: z.string().min(1),
        from: z.array(z.string()).min(1),
        to: z.string(),
        roles: z.array(z.enum(roleNames)).min(1),
        requiredFields: z.array(z.enum(transitionFieldNames)),
      }),
    )
    .min(1),
});

export type LifecycleInput = z.input<typeof LifecycleSchema>;

export class LifecycleDefinitionError extends Error {
  override name = 'LifecycleDefinitionError';
  constructor(readonly problems: string[]) {
    super(`invalid lifecycle definition: ${problems.join('; ')}`);
  }
}

/**
 * Checks a lifecycle definition: shape, unique names, actions referring to declared statuses,
 * every status reachable from the initial one, non-terminal statuses having a way out.
 * Returns the list of problems (empty when valid).
 */
export function lifecycleProblems(input: unknown): string[] {
  const parsed = LifecycleSchema.safeParse(input);
  if (!parsed.success) {
    return parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  const def = parsed.data;
  const problems: string[] = [];
  const statuses = new Set<string>();
  for (const s of def.statuses) {
    if (statuses.has(s.name)) problems.push(`duplicate status "${s.name}"`);
    statuses.add(s.name);
  }
  if (!statuses.has(def.initialStatus)) problems.push(`initial status "${def.initialStatus}" is not declared`);
  const actions = new Set<string>();
  for (const a of def.actions) {
    if (actions.has(a.name)) problems.push(`duplicate action "${a.name}"`);
    actions.add(a.name);
    for (const f of a.from) if (!statuses.has(f)) problems.push(`action "${a.name}" starts from undeclared status "${f}"`);
    if (!statuses.has(a.to)) problems.push(`action "${a.name}" leads to undeclared status "${a.to}"`);
  }
  const reached = new Set([def.initialStatus]);
  for (let grew = true; grew;) {
    grew = false;
    for (const a of def.actions) {
      if (a.from.some((f) => reached.has(f)) && !reached.has(a.to)) {
        reached.add(a.to);
        grew = true;
      }
    }
  }
  for (const s of def.statuses) {
    if (!reached.has(s.name)) problems.push(`status "${s.name}" is not reachable from "${def.initialStatus}"`);
    const leaves = def.actions.some((a) => a.from.includes(s.name));
    if (s.terminal && leaves) problems.push(`terminal status "${s.name}" has outgoing actions`);
    if (!s.terminal && !leaves) problems.push(`status "${s.name}" is not terminal but has no outgoing action`);
  }
  return problems;
}

export interface LifecycleAction {
  name: ActionName;
  label: string;
  from: readonly PatchStatus[];
  to: PatchStatus;
  roles: readonly Role[];
  requiredFields: readonly TransitionField[];
}

/** The loaded, validated lifecycle with the questions the services ask of it. */
export class Lifecycle {
  readonly initialStatus: PatchStatus;
  readonly statuses: readonly { name: PatchStatus; label: string; terminal: boolean }[];
  readonly actions: readonly LifecycleAction[];
  private readonly byName: ReadonlyMap<string, LifecycleAction>;

  constructor(definition: typeof lifecycleDefinition) {
    const problems = lifecycleProblems(definition);
    if (problems.length > 0) throw new LifecycleDefinitionError(problems);
    this.initialStatus = definition.initialStatus;
    this.statuses = definition.statuses;
    this.actions = definition.actions;
    this.byName = new Map(this.actions.map((a) => [a.name, a]));
  }

  action(name: string): LifecycleAction | undefined {
    return this.byName.get(name);
  }

  /** Actions that can be taken from `status`, optionally only those `role` may take. */
  allowedActions(status: PatchStatus, role?: Role): ActionName[] {
    return this.actions
      .filter((a) => a.from.includes(status) && (role === undefined || a.roles.includes(role)))
      .map((a) => a.name);
  }

  isTerminal(status: PatchStatus): boolean {
    return this.statuses.find((s) => s.name === status)?.terminal ?? false;
  }

  /** Mermaid `stateDiagram-v2` text; `current` gets a highlighted class. */
  toMermaid(current?: PatchStatus): string {
    const lines = ['stateDiagram-v2', `  [*] --> ${this.initialStatus}`];
    for (const a of this.actions) for (const f of a.from) lines.push(`  ${f} --> ${a.to}: ${a.name}`);
    for (const s of this.statuses) if (s.terminal) lines.push(`  ${s.name} --> [*]`);
    if (current) {
      lines.push('  classDef current fill:#ffd54f,stroke:#e65100,stroke-width:3px');
      lines.push(`  class ${current} current`);
    }
    return lines.join('\n');
  }
}

export const lifecycle = new Lifecycle(lifecycleDefinition);
