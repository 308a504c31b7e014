import { describe, expect, it } from 'vitest';
import {
  actionNames,
  lifecycle,
  lifecycleDefinition,
  lifecycleProblems,
  Lifecycle,
  LifecycleDefinitionError,
  routing,
  statusNames,
  Topology,
} from './index.js';

const clone = () =>
  structuredClone(lifecycleDefinition) as unknown as {
    [k: string]: unknown;
    actions: Record<string, unknown>[];
    statuses: Record<string, unknown>[];
  };

describe('the lifecycle definition', () => {
  it('is valid as shipped', () => {
    expect(lifecycleProblems(lifecycleDefinition)).toEqual([]);
  });

  it('names an unreachable status', () => {
    const def = clone();
    def.statuses.push({ name: 'limbo', label: 'Limbo', terminal: true });
    expect(lifecycleProblems(def)).toContain('status "limbo" is not reachable from "draft"');
  });

  it('names a duplicate action and an undeclared target', () => {
    const def = clone();
    def.actions.push({ ...def.actions[0]!, to: 'nowhere' });
    const problems = lifecycleProblems(def);
    expect(problems).toContain('duplicate action "markActive"');
    expect(problems).toContain('action "markActive" leads to undeclared status "nowhere"');
  });

  it('names a bad role and a dead-end status', () => {
    const def = clone();
    def.actions[0]!.roles = ['superuser'];
    expect(lifecycleProblems(def)[0]).toMatch(/^actions\.0\.roles\.0:/);
    const dead = clone();
    dead.actions = dead.actions.filter((a) => a.name !== 'close');
    expect(lifecycleProblems(dead)).toContain('status "deployed" is not terminal but has no outgoing action');
  });

  it('refuses to load an invalid definition', () => {
    const def = clone();
    def.initialStatus = 'nope';
    expect(() => new Lifecycle(def as never)).toThrow(LifecycleDefinitionError);
  });

  it('answers allowed actions per status and role', () => {
    expect(lifecycle.allowedActions('draft')).toEqual(['markActive', 'cancel']);
    expect(lifecycle.allowedActions('draft', 'operator')).toEqual(['markActive']);
    expect(lifecycle.allowedActions('deployment_failed')).toEqual(['startDeployment', 'cancel']);
    expect(lifecycle.allowedActions('closed')).toEqual([]);
    expect(lifecycle.allowedActions('active', 'viewer')).toEqual([]);
  });

  it('renders every transition in Mermaid and marks the current status', () => {
    const text = lifecycle.toMermaid('in_deployment');
    expect(text.split('\n')[0]).toBe('stateDiagram-v2');
    for (const a of lifecycle.actions) for (const f of a.from) expect(text).toContain(`${f} --> ${a.to}: ${a.name}`);
    expect(text).toContain('class in_deployment current');
    expect(lifecycle.toMermaid()).not.toContain('class ');
  });
});

describe('routing and topology', () => {
  it('routes every action, successor only on startDeployment', () => {
    expect(Object.keys(routing).sort()).toEqual([...actionNames].sort());
    for (const a of actionNames) expect(routing[a].includes('successor')).toBe(a === 'startDeployment');
    expect(statusNames).toContain(lifecycle.initialStatus);
  });

  it('prefixes subjects and streams with the namespace, and refuses a bad one', () => {
    const plain = new Topology();
    expect(plain.work('startDeployment')).toBe('patch.work.v1.startDeployment');
    expect(plain.subjects.patchTransition).toBe('patch.v1.transition');
    expect(plain.streams.work.name).toBe('PATCHFLOW_WORK');
    const t = new Topology('t_1');
    expect(t.work('close')).toBe('t_1.patch.work.v1.close');
    expect(t.streams.work.subjects).toEqual(['t_1.patch.work.v1.>']);
    expect(t.streams.work.name).toBe('T_1_PATCHFLOW_WORK');
    expect(t.actionOfWorkSubject('t_1.patch.work.v1.close')).toBe('close');
    expect(() => new Topology('Bad Space')).toThrow(/namespace/);
  });
});
