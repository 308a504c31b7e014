export { testDatabaseServerUrl, testNatsUrl, uniqueSuffix } from './env.js';
export { createTestDatabase, testPool, type TestDatabase } from './database.js';
export { connectTestBus, deleteNamespaceStreams, testLogLevel, uniqueNamespace } from './bus.js';
export { fileScope, type FileScope } from './file-scope.js';
export { freePort, PrivateNatsServer, repoRoot, ServiceProcess, waitFor } from './processes.js';
export { freePortRange, PrivateNatsCluster, type ClusterNode } from './nats-cluster.js';
export { PrivatePostgres } from './private-postgres.js';
export {
  RunningSystem,
  systemServices,
  TransitionLoad,
  waitForSettled,
  type AcceptedTransition,
  type SystemOptions,
  type SystemService,
} from './system.js';
export { FakeHttpServer, type Fault, type FakeResponse, type RecordedCall } from './fakes/fake-http-server.js';
export { FakeGitlab, type FakePipeline } from './fakes/fake-gitlab.js';
export { FakeJira, type FakeJiraIssue, type FakeJiraTransition } from './fakes/fake-jira.js';
export { FakeSlack, slackControlSequences, type SlackPost } from './fakes/fake-slack.js';
export { startFakes, type Fakes, type RunningFakes } from './fakes/fakes.js';
export { buildWorkItem } from './work-items.js';
export { readStream, type StoredMessage } from './streams.js';
export { faultInjectors } from './faults/index.js';
export { fakeWorkflowInput, type FakeRun, type FakeWorkflowInput, type RecordedStep } from './fake-workflow-input.js';
export {
  workflowTest,
  type EventFilter,
  type ExecutionReader,
  type StoppableWorkflow,
  type WorkflowFixtureSpec,
  type WorkflowStartContext,
  type WorkflowUnderTest,
} from './workflow-fixture.js';
export { generateNatsConfig } from './nats-config.js';
export { metricValue, parseMetrics, type MetricSample } from './metrics.js';
