import { existsSync } from 'node:fs';

/**
 * Decides once per run where the test servers are. DATABASE_URL / NATS_URL win when set; else,
 * if a Docker engine answers, Postgres and NATS are started with testcontainers; else the local
 * servers on their standard ports are used.
 */
export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  if (process.env.DATABASE_URL || process.env.NATS_URL || !dockerEngineAvailable()) return undefined;
  const { GenericContainer, Wait } = await import('testcontainers');
  const postgres = await new GenericContainer('postgres:15')
    .withEnvironment({ POSTGRES_USER: 'root', POSTGRES_HOST_AUTH_METHOD: 'trust', POSTGRES_DB: 'patchflow' })
    .withExposedPorts(5432)
    .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
    .start();
  const nats = await new GenericContainer('nats:2.9').withCommand(['-js']).withExposedPorts(4222).start();
  process.env.DATABASE_URL = `postgres://root@${postgres.getHost()}:${postgres.getMappedPort(5432)}/patchflow`;
  process.env.NATS_URL = `nats://${nats.getHost()}:${nats.getMappedPort(4222)}`;
  return async () => {
    await Promise.all([postgres.stop(), nats.stop()]);
  };
}

function dockerEngineAvailable(): boolean {
  const socket = process.env.DOCKER_HOST?.replace(/^unix:\/\//, '') ?? '/var/run/docker.sock';
  return existsSync(socket);
}
