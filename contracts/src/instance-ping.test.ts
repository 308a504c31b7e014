import { describe, expect, it } from 'vitest';
import { busPrincipals } from './bus-permissions.js';
import { InstancePing, pingedServices } from './instance-ping.js';
import { Topology } from './topology.js';

const reply = {
  service: 'workflow-jira',
  instanceId: '8f0c9a52-3a51-4d6b-9a7e-0f7f6d7f2b11',
  hostname: 'pod-1',
  pid: 42,
  version: '0.1.0',
  startedAt: '2026-11-26T10:00:00.000Z',
  uptimeSeconds: 12,
  natsName: 'workflow-jira',
};

describe('the instance ping', () => {
  it('is answered by every principal but the operators, on one namespaced subject', () => {
    expect(pingedServices).toEqual(busPrincipals.filter((p) => p !== 'ops'));
    expect(pingedServices).toContain('gateway');
    expect(pingedServices).not.toContain('ops');
    expect(new Topology().instancePing).toBe('ops.v1.ping');
    expect(new Topology('ns1').instancePing).toBe('ns1.ops.v1.ping');
  });

  it('a reply names its process; anything else is refused naming the field', () => {
    expect(InstancePing.parse(reply)).toEqual(reply);
    const bad = InstancePing.safeParse({ ...reply, instanceId: 'nope', pid: -1 });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues.map((i) => i.path.join('.')).sort()).toEqual(['instanceId', 'pid']);
    expect(InstancePing.safeParse('not an object').success).toBe(false);
  });
});
