import { FakeGitlab } from './fake-gitlab.js';
import { FakeJira } from './fake-jira.js';
import { FakeSlack } from './fake-slack.js';

/** The fake Slack, GitLab and Jira that a whole system in one test file talks to. */
export interface Fakes {
  slack: FakeSlack;
  gitlab: FakeGitlab;
  jira: FakeJira;
}

/** Started fakes, closed together. */
export interface RunningFakes extends Fakes {
  close(): Promise<void>;
}

/** Starts the three fakes (GitLab with `gitlab`'s options). */
export async function startFakes(options: { gitlab?: Parameters<typeof FakeGitlab.start>[0] } = {}): Promise<RunningFakes> {
  const [slack, gitlab, jira] = await Promise.all([FakeSlack.start(), FakeGitlab.start(options.gitlab), FakeJira.start()]);
  return {
    slack,
    gitlab,
    jira,
    close: async () => {
      await Promise.all([slack.close(), gitlab.close(), jira.close()]);
    },
  };
}
