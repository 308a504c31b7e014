/**
 * Fake GitLab, Jira and Slack (libs/testing/src/fakes) answering at once, in the driver's process.
 * Every patch gets a Jira issue in "To Do", so markActive and startDeployment each move it and
 * comment on it (four calls, two steps).
 */
import { FakeGitlab, FakeJira, FakeSlack } from '@patchflow/testing';

export class StandIns {
  private next = 0;

  private constructor(
    readonly gitlab: FakeGitlab,
    readonly jira: FakeJira,
    readonly slack: FakeSlack,
  ) {}

  static async start(): Promise<StandIns> {
    const [gitlab, jira, slack] = await Promise.all([FakeGitlab.start(), FakeJira.start(), FakeSlack.start()]);
    return new StandIns(gitlab, jira, slack);
  }

  /** A fresh Jira issue key for a new patch. */
  newIssue(): string {
    const key = `BENCH-${++this.next}`;
    this.jira.addIssue(key, 'To Do');
    return key;
  }

  /** The environment of a workflow process that calls these stand-ins. */
  get env(): Record<string, string> {
    return {
      ...this.gitlab.env,
      ...this.jira.env,
      ...this.slack.env,
    };
  }

  /** Forgets recorded calls (the fakes keep every one; a long run would grow the driver). */
  forgetCalls(): void {
    for (const f of [this.gitlab, this.jira, this.slack]) f.calls.length = 0;
    this.gitlab.pipelines.length = 0;
    this.slack.posts.length = 0;
  }

  async close(): Promise<void> {
    await Promise.all([this.gitlab.close(), this.jira.close(), this.slack.close()]);
  }
}
