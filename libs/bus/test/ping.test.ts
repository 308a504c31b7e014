import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { createLogger } from '@patchflow/log';
import type { PingedService } from '@patchflow/contracts';
import { testNatsUrl, uniqueNamespace } from '@patchflow/testing';
import { Bus, instanceInfo, pingInstances } from '../src/index.js';

// The instance ping against the real NATS server, in a namespace of its own: a bus that says which
// service it is answers it (every one, no queue group), any other bus does not — whatever its
// connection name — and junk on the subject is counted and ignored.

const namespace = uniqueNamespace('busping');
const buses: Bus[] = [];
let rogue: NatsConnection | undefined;

const open = async (name: string, service?: PingedService) => {
  const bus = await Bus.connect({
    url: testNatsUrl(),
    name,
    namespace,
    logger: createLogger(name, 'silent'),
    ...(service !== undefined ? { service } : {}),
  });
  buses.push(bus);
  return bus;
};

let asker: Bus;
let slack: Bus;

beforeAll(async () => {
  asker = await open('patchctl');
});

afterAll(async () => {
  await rogue?.close();
  for (const b of buses) await b.close().catch(() => undefined);
});

describe('the instance ping', () => {
  it('nobody running: an empty list, not an error', async () => {
    expect(await pingInstances(asker, 300)).toEqual({ instances: [], ignored: 0 });
  });

  it('every bus that says its service answers, each once, with what identifies its process', async () => {
    slack = await open('workflow-slack', 'workflow-slack');
    await open('gateway', 'gateway');
    await open('test-client');
    await open('patch-status'); // a test client named like a service: not an instance
    await open('ops-helper', 'action-log');
    const { instances, ignored } = await pingInstances(asker, 500);
    expect(ignored).toBe(0);
    expect(instances.map((i) => [i.service, i.natsName])).toEqual([
      ['action-log', 'ops-helper'],
      ['gateway', 'gateway'],
      ['workflow-slack', 'workflow-slack'],
    ]);
    for (const i of instances) {
      expect(i).toMatchObject({ instanceId: instanceInfo('x', 'x').instanceId, pid: process.pid, version: expect.any(String) });
      expect(Date.parse(i.startedAt)).toBeLessThanOrEqual(Date.now());
    }
  });

  it('a reply that is not an InstancePing is counted and ignored, the real ones still listed', async () => {
    rogue = await connect({ servers: testNatsUrl() });
    rogue.subscribe(asker.topology.instancePing, {
      callback: (_err, msg) => {
        msg.respond('not json {');
        rogue!.publish(msg.reply!, JSON.stringify({ service: 'gateway', instanceId: 'nope', pid: -1 }));
      },
    });
    await rogue.flush();
    const { instances, ignored } = await pingInstances(asker, 500);
    expect(ignored).toBe(2);
    expect(instances.map((i) => i.service)).toEqual(['action-log', 'gateway', 'workflow-slack']);
  });

  it('a bus that stopped serving no longer answers', async () => {
    await slack.stopServing();
    const { instances } = await pingInstances(asker, 500);
    expect(instances.map((i) => i.service)).toEqual(['action-log', 'gateway']);
  });
});
