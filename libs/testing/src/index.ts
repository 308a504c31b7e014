export { testDatabaseServerUrl, testNatsUrl, uniqueSuffix } from './env.js';
export { createTestDatabase, type TestDatabase } from './database.js';
export { connectTestBus, deleteNamespaceStreams, testLogLevel, uniqueNamespace } from './bus.js';
export { freePort, PrivateNatsServer, repoRoot, ServiceProcess, waitFor } from './processes.js';
