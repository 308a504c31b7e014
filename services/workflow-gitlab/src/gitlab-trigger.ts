import { z } from 'zod';
import { NotConfigured, PermanentError, type HttpClient } from '@patchflow/workflow-runtime';

export interface GitlabConfig {
  url: string;
  projectId: string;
  triggerToken: string;
}

export interface TriggeredPipeline {
  id: number;
  webUrl: string;
}

const PipelineResponse = z.object({ id: z.number().int(), web_url: z.string() });

/**
 * Port: triggers one pipeline of the configured project on `ref`. At-least-once and not
 * idempotent (a second call is a second pipeline): the handler records the pipeline per work item.
 */
export interface PipelineTrigger {
  trigger(ref: string, variables: Record<string, string>, signal: AbortSignal): Promise<TriggeredPipeline>;
}

/**
 * GitLab's pipeline trigger API (`POST /api/v4/projects/:id/trigger/pipeline`). Not
 * idempotent on GitLab's side: the caller records the pipeline id per work item. The token is
 * sent as a form field and never logged.
 */
export class GitlabPipelineTrigger implements PipelineTrigger {
  constructor(
    private readonly http: HttpClient,
    private readonly config: GitlabConfig | undefined,
  ) {}

  get configured(): boolean {
    return this.config !== undefined;
  }

  async trigger(ref: string, variables: Record<string, string>, signal: AbortSignal): Promise<TriggeredPipeline> {
    const c = this.config;
    if (!c) throw new NotConfigured('GITLAB_URL, GITLAB_PROJECT_ID and GITLAB_TRIGGER_TOKEN are not all set');
    const form = new URLSearchParams({ token: c.triggerToken, ref });
    for (const [k, v] of Object.entries(variables)) form.set(`variables[${k}]`, v);
    const base = c.url.replace(/\/+$/, '');
    try {
      const res = await this.http.send({
        method: 'POST',
        url: `${base}/api/v4/projects/${encodeURIComponent(decodeURIComponent(c.projectId))}/trigger/pipeline`,
        body: form,
        what: 'GitLab pipeline trigger',
        signal,
      });
      const parsed = PipelineResponse.safeParse(res.json());
      if (!parsed.success) throw new PermanentError('GitLab pipeline trigger: unexpected response (no id / web_url)');
      return { id: parsed.data.id, webUrl: parsed.data.web_url };
    } catch (err) {
      // GitLab answers 404 for a wrong trigger token as well as an unknown project.
      if (err instanceof PermanentError && err.status === 404) {
        throw new PermanentError(`${err.message} (unknown project ${c.projectId} or wrong trigger token)`, {
          cause: err,
          status: 404,
        });
      }
      throw err;
    }
  }
}
