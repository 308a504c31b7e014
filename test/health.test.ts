import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HealthServer } from '@patchflow/config';
import {
  createTestDatabase,
  freePort,
  PrivateNatsServer,
  ServiceProcess,
  uniqueNamespace,
  waitFor,
  type TestDatabase,
} from '@patchflow/testing';

/** GET a health endpoint: status and body, or undefined while nothing listens. */
async function get(port: number, path: string): Promise<{ status: number; body: Record<string, unknown> } | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  } catch {
    return undefined;
  }
}

/** Every /readyz answer from the moment the process starts until it says ready. */
async function readinessUntilReady(port: number, what: string) {
  const answers: { status: number; body: Record<string, unknown> }[] = [];
  await waitFor(
    async () => {
      const a = await get(port, '/readyz');
      if (a) answers.push(a);
      return a?.status === 200;
    },
    { timeoutMs: 45_000, intervalMs: 20, what: `${what} ready (answers: ${JSON.stringify(answers.slice(-3))})` },
  );
  return answers;
}

describe('HealthServer', () => {
  it('answers alive at once, not ready until told, the first failing condition as the reason, and stopping', async () => {
    const port = await freePort();
    const health = await HealthServer.start({ HEALTH_PORT: String(port) });
    expect(await get(port, '/healthz')).toEqual({ status: 200, body: { status: 'ok' } });
    expect(await get(port, '/readyz')).toEqual({ status: 503, body: { status: 'not ready', reason: 'starting' } });

    let nats = true;
    health.readyWhenAll({ 'NATS is not reachable': () => nats, 'Postgres is not reachable': async () => true });
    expect(await get(port, '/readyz')).toEqual({ status: 200, body: { status: 'ready' } });
    nats = false;
    await waitFor(async () => (await get(port, '/readyz'))?.status === 503, { what: 'not ready' });
    expect((await get(port, '/readyz'))?.body).toEqual({ status: 'not ready', reason: 'NATS is not reachable' });
    expect((await get(port, '/nope'))?.status).toBe(404);

    health.readyWhen(() => {
      throw new Error('boom');
    });
    expect((await get(port, '/readyz'))?.body).toEqual({ status: 'not ready', reason: 'boom' });

    let stopped = false;
    await health.whileStopping(async () => {
      expect((await get(port, '/readyz'))?.body).toEqual({ status: 'not ready', reason: 'stopping' });
      expect((await get(port, '/healthz'))?.status).toBe(200);
      stopped = true;
    });
    expect(stopped).toBe(true);
    expect(await get(port, '/healthz')).toBeUndefined();
  });

  it('a port in use, or a malformed HEALTH_PORT, is one line naming the variable', async () => {
    const port = await freePort();
    const blocker = createServer().listen(port, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    await expect(HealthServer.start({ HEALTH_PORT: String(port) })).rejects.toThrow(
      new RegExp(`^HEALTH_PORT ${port} is in use on 127.0.0.1; stop what uses it or set another HEALTH_PORT$`),
    );
    blocker.close();
    await expect(HealthServer.start({ HEALTH_PORT: 'http' })).rejects.toThrow(/HEALTH_PORT/);
    // Unset or 0: no server, readiness kept in-process.
    const off = await HealthServer.start({});
    expect(off.port).toBe(0);
  });
});

describe('readiness of the real services', () => {
  let nats: PrivateNatsServer;
  let patchDb: TestDatabase;
  let workflowDb: TestDatabase;
  const processes: ServiceProcess[] = [];
  let env: Record<string, string>;

  beforeAll(async () => {
    [nats, patchDb, workflowDb] = await Promise.all([
      PrivateNatsServer.start(),
      createTestDatabase('health_ps'),
      createTestDatabase('health_wf'),
    ]);
    env = {
      NATS_URL: nats.url,
      BUS_NAMESPACE: uniqueNamespace('health'),
      DATABASE_URL: patchDb.url,
      WORKFLOW_DATABASE_URL: workflowDb.url,
      LOG_LEVEL: 'warn',
    };
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await nats?.dispose();
    await Promise.all([patchDb?.drop(), workflowDb?.drop()]);
  });

  it('gateway, patch-status and a workflow: 503 with a reason until each can do its job, 200 after, 503 while NATS is down', async () => {
    const [gatewayHealth, patchHealth, slackHealth] = [await freePort(), await freePort(), await freePort()];

    // The gateway alone is alive but not ready: nobody answers patch-status's subjects yet.
    const gateway = ServiceProcess.start('services/gateway/src/main.ts', {
      ...env,
      HEALTH_PORT: String(gatewayHealth),
      GATEWAY_PORT: '0',
      GATEWAY_TOKENS: 'test:admin:health-test-token-0123456789',
    });
    processes.push(gateway);
    await waitFor(async () => (await get(gatewayHealth, '/healthz'))?.status === 200, {
      timeoutMs: 45_000,
      what: 'gateway alive',
    });
    await waitFor(async () => /patch-status does not answer/.test(String((await get(gatewayHealth, '/readyz'))?.body.reason)), {
      timeoutMs: 20_000,
      what: 'gateway not ready while patch-status is missing',
    });
    expect((await get(gatewayHealth, '/readyz'))?.status).toBe(503);

    // patch-status: 503 while it migrates and connects, then 200; then the gateway is ready.
    const patchStatus = ServiceProcess.start('services/patch-status/src/main.ts', { ...env, HEALTH_PORT: String(patchHealth) });
    processes.push(patchStatus);
    const patchAnswers = await readinessUntilReady(patchHealth, 'patch-status');
    expect(patchAnswers[0]).toEqual({ status: 503, body: { status: 'not ready', reason: 'starting' } });
    await waitFor(async () => (await get(gatewayHealth, '/readyz'))?.status === 200, {
      timeoutMs: 20_000,
      what: 'gateway ready',
    });

    // A workflow: 503 until its consumer runs, then 200.
    const slack = ServiceProcess.start('services/workflow-slack/src/main.ts', { ...env, HEALTH_PORT: String(slackHealth) });
    processes.push(slack);
    const slackAnswers = await readinessUntilReady(slackHealth, 'workflow-slack');
    expect(slackAnswers[0]).toEqual({ status: 503, body: { status: 'not ready', reason: 'starting' } });

    // NATS down: all three say why and stay alive; back: ready again.
    await nats.stop();
    for (const port of [patchHealth, slackHealth, gatewayHealth]) {
      await waitFor(async () => (await get(port, '/readyz'))?.body.reason === 'NATS is not reachable', {
        timeoutMs: 20_000,
        what: `503 on ${port}`,
      });
      expect((await get(port, '/healthz'))?.status).toBe(200);
    }
    await nats.restart();
    for (const port of [patchHealth, slackHealth, gatewayHealth]) {
      await waitFor(async () => (await get(port, '/readyz'))?.status === 200, {
        timeoutMs: 30_000,
        what: `ready again on ${port}`,
      });
    }

    // SIGTERM: readiness goes first, the process exits cleanly.
    expect(await slack.stop()).toBe(0);
    expect(await get(slackHealth, '/healthz')).toBeUndefined();
  });
});
