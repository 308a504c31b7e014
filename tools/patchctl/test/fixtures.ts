import { execFile } from 'node:child_process';
import { FakeGitlab, repoRoot, testNatsUrl, workflowTest } from '@patchflow/testing';
import { startGitlabWorkflow } from '@patchflow/workflow-gitlab';
import { ExecutionStore } from '@patchflow/workflow-runtime';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** patchctl as an operator runs it: the package's bin, its own process (stdout and stderr are pipes, not a terminal). */
export function patchctl(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['tools/patchctl/bin/patchctl.mjs', ...args],
      { cwd: repoRoot, env: { ...process.env, ...env }, timeout: 100_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

/** The options that point a command at a test file's bus namespace on the test NATS. */
export const at = (namespace: string) => ['--namespace', namespace, '--nats-url', testNatsUrl()];

/** The pipelines the fake GitLab ran for one patch. */
export const pipelinesFor = (gitlab: FakeGitlab, patchId: string) =>
  gitlab.pipelines.filter((p) => p.variables.PATCH_ID === patchId);

/**
 * What patchctl's commands act on in a test file: the gitlab workflow against a fake GitLab that
 * knows `main` (quick retries, `maxAttempts` of them), as `workflowTest` fixtures (`label` names
 * the file's database and bus namespace).
 */
export function gitlabWorkflowTest(label: string, maxAttempts: number) {
  return workflowTest({
    workflow: 'gitlab',
    label,
    remote: () => FakeGitlab.start({ refs: ['main'] }),
    start: ({ remote: gitlab, ...ctx }) =>
      startGitlabWorkflow({
        ...ctx,
        retry: { baseDelayMs: 50, maxDelayMs: 400, maxAttempts },
        gitlab: { url: gitlab.url, projectId: gitlab.projectId, triggerToken: gitlab.triggerToken },
        defaultRef: 'main',
      }),
    openStore: (url) => ExecutionStore.open(url, 'gitlab', 2),
  });
}
