import { describe, expect, it } from 'vitest';
import { routing } from './routing.js';
import { streamMessages } from './stream-messages.js';
import { Topology, type StreamKey } from './topology.js';

/** NATS subject matching with `*` and `>` (what a stream's subject filter does). */
function matches(filter: string, subject: string): boolean {
  const f = filter.split('.');
  const s = subject.split('.');
  for (let i = 0; i < f.length; i += 1) {
    if (f[i] === '>') return s.length > i;
    if (f[i] !== '*' && f[i] !== s[i]) return false;
  }
  return f.length === s.length;
}

describe('the JetStream message catalog', () => {
  const t = new Topology('ns_catalog');
  const now = new Date().toISOString();
  const id = '8f1c2a4e-4f7a-4d7e-9c1e-2b1f0c9d3e4a';
  const patch = {
    id,
    name: '2026.48.1',
    product: 'p',
    status: 'active',
    version: 2,
    jiraKey: null,
    gitRef: null,
    predecessorId: null,
    createdAt: now,
    updatedAt: now,
  } as const;
  const work = {
    workId: id,
    transition: {
      id,
      patchId: id,
      action: 'markActive',
      fromStatus: 'draft',
      toStatus: 'active',
      actor: 'a',
      reason: null,
      patchVersion: 2,
      workId: id,
      createdAt: now,
    },
    patch,
    workflows: [...routing.markActive],
  } as const;
  const event = { eventId: id, workId: id, patchId: id, action: 'markActive', workflow: 'jira', attempt: 1, at: now } as const;
  const samples = {
    work: streamMessages.work.schema.parse(work),
    step: streamMessages.step.schema.parse({ ...event, kind: 'step', subactionType: 'x', message: 'm' }),
    execution: streamMessages.execution.schema.parse({ ...event, kind: 'execution', status: 'succeeded' }),
    deadLetter: streamMessages.deadLetter.schema.parse({ workflow: 'gitlab', work, reason: 'r', attempts: 3, at: now }),
  };

  it('every message lands in the stream it names, and every stream has its messages', () => {
    const covered = new Set<StreamKey>();
    for (const [name, m] of Object.entries(streamMessages)) {
      const subject = m.subject(t, samples[name as keyof typeof samples] as never);
      const stream = t.streams[m.stream];
      expect(
        stream.subjects.some((f) => matches(f, subject)),
        `${name} → ${subject}`,
      ).toBe(true);
      covered.add(m.stream);
    }
    expect([...covered].sort()).toEqual((Object.keys(t.streams) as StreamKey[]).sort());
  });

  it('subjects and message ids come from the value itself', () => {
    expect(streamMessages.work.subject(t, samples.work)).toBe('ns_catalog.patch.work.v1.markActive');
    expect(streamMessages.work.msgId(samples.work)).toBe(id);
    expect(streamMessages.execution.subject(t, samples.execution)).toBe('ns_catalog.workflow.v1.execution.jira');
    expect(streamMessages.deadLetter.msgId(samples.deadLetter)).toBe(`gitlab:${id}:3`);
  });
});
