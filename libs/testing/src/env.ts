/** Where the tests' servers are: the env when set, else the local defaults (or testcontainers). */
export function testDatabaseServerUrl(): string {
  return process.env.DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/patchflow';
}

export function testNatsUrl(): string {
  return process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
}

/** A short random suffix for names that must not collide between test files or runs. */
export function uniqueSuffix(): string {
  return `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}
