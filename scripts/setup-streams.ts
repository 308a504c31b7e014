/**
 * Creates (or updates) every JetStream stream as the ops user, before the services start: a
 * service's own NATS user may only read streams (DESIGN.md, "Who may say what"). Built to
 * `scripts/dist/setup-streams.js` so it runs with plain `node` in the production image — the
 * one-shot `setup` service of docker-compose.yml and the Job in deploy/k8s. Exits 0 when the
 * streams exist with the wanted settings (STREAM_REPLICAS included).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { Bus } from '@patchflow/bus';
import { commonEnv, envInt, exitWithHelpIfAsked, natsConnection, natsEnv, parseEnv, startOrExit } from '@patchflow/config';
import { createLogger } from '@patchflow/log';

exitWithHelpIfAsked(`setup-streams — creates or updates the JetStream streams as the ops user, then exits

Usage: node scripts/dist/setup-streams.js   (npm run build first)

Environment: NATS_URL, NATS_USER / NATS_PASSWORD of the ops user (npm run nats:config writes
ops.env), STREAM_REPLICAS, BUS_NAMESPACE, LOG_LEVEL, SETUP_TIMEOUT_MS.`);

const setupEnv = z.object({
  ...natsEnv,
  BUS_NAMESPACE: commonEnv.BUS_NAMESPACE,
  LOG_LEVEL: commonEnv.LOG_LEVEL,
  /**
   * How long to keep trying. Containers start together: NATS may not listen yet, and a cluster
   * needs a few seconds to elect its JetStream leader (streams cannot be created before).
   */
  SETUP_TIMEOUT_MS: envInt(0, 600_000).default(60_000),
});

const env = await startOrExit('setup-streams', async () => parseEnv(setupEnv));
const logger = createLogger('setup-streams', env.LOG_LEVEL);
const deadline = Date.now() + env.SETUP_TIMEOUT_MS;

await startOrExit('setup-streams', async () => {
  for (let attempt = 1; ; attempt++) {
    try {
      const bus = await Bus.connect({ ...natsConnection(env), name: 'setup-streams', namespace: env.BUS_NAMESPACE, logger });
      try {
        await bus.ensureStreams();
        const names = Object.values(bus.topology.streams).map((s) => s.name);
        logger.info({ streams: names, attempt }, 'streams ready');
        return;
      } finally {
        await bus.close();
      }
    } catch (err) {
      // Refused credentials or permissions will not heal by waiting: say so at once.
      const name = err instanceof Error ? err.name : '';
      const message = err instanceof Error ? err.message : String(err);
      if (name === 'BusPermissionError' || /refused the credentials|may not use/.test(message) || Date.now() >= deadline)
        throw err;
      logger.warn({ attempt, reason: message }, 'streams not ready yet, retrying');
      await sleep(1000);
    }
  }
});
process.exit(0);
