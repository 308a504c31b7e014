/**
 * The four effects as the peers' workers run them: the same calls to the same stand-ins as
 * Patchflow's workflows (GitLab pipeline trigger; Jira read status and transitions in one Get
 * issue, transition, comment; Slack webhook; the successor as an insert), each step written as a row.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { PeerJob } from './peer-schema.js';

export interface EffectConfig {
  gitlab: { url: string; projectId: string; triggerToken: string };
  jira: { url: string; email: string; apiToken: string };
  slackWebhookUrl: string;
}

export function effectConfigFromEnv(env: NodeJS.ProcessEnv): EffectConfig {
  const need = (k: string) => {
    const v = env[k];
    if (!v) throw new Error(`${k} is not set`);
    return v;
  };
  return {
    gitlab: { url: need('GITLAB_URL'), projectId: need('GITLAB_PROJECT_ID'), triggerToken: need('GITLAB_TRIGGER_TOKEN') },
    jira: { url: need('JIRA_URL'), email: need('JIRA_EMAIL'), apiToken: need('JIRA_API_TOKEN') },
    slackWebhookUrl: need('SLACK_WEBHOOK_URL'),
  };
}

/** Jira status per patch status (Patchflow's default map, for the two moves benchmarked). */
const JIRA_TARGET: Record<string, string> = { active: 'In Progress', in_deployment: 'Ready for QA' };

async function send(url: string, init: RequestInit): Promise<unknown> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${new URL(url).pathname}: ${res.status} ${text.slice(0, 200)}`);
  return text && res.headers.get('content-type')?.startsWith('application/json') ? (JSON.parse(text) as unknown) : text;
}

export class PeerEffects {
  constructor(
    private readonly db: pg.Pool,
    private readonly config: EffectConfig,
  ) {}

  async run(job: PeerJob): Promise<void> {
    const startedAt = new Date();
    const step = (subactionType: string, message: string, metadata: Record<string, unknown>) =>
      this.db.query({
        name: 'bench_insert_step',
        text: 'INSERT INTO bench_step (transition_id, workflow, subaction_type, message, metadata, started_at) VALUES ($1, $2, $3, $4, $5, $6)',
        values: [job.transitionId, job.workflow, `patch.workflow.${job.action}.${subactionType}`, message, metadata, startedAt],
      });
    switch (job.workflow) {
      case 'successor': {
        const r = await this.db.query<{ id: string }>({
          name: 'bench_create_successor',
          text: `INSERT INTO bench_patch (id, name, product, status, version, predecessor_id, created_at, updated_at)
                 VALUES ($1, $2, $3, 'draft', 1, $4, now(), now()) ON CONFLICT (predecessor_id) DO NOTHING RETURNING id`,
          values: [randomUUID(), `${job.name}.next`, job.product, job.patchId],
        });
        await step('createSuccessor', `created successor ${job.product} ${job.name}.next`, {
          successorId: r.rows[0]?.id ?? null,
          replayed: r.rowCount === 0,
        });
        return;
      }
      case 'gitlab': {
        const g = this.config.gitlab;
        const ref = job.gitRef ?? 'main';
        const form = new URLSearchParams({ token: g.triggerToken, ref });
        for (const [k, v] of Object.entries({
          PATCH_ID: job.patchId,
          PATCH_NAME: job.name,
          PATCH_ACTION: job.action,
          PATCH_STATUS: job.toStatus,
        }))
          form.set(`variables[${k}]`, v);
        const p = (await send(`${g.url}/api/v4/projects/${g.projectId}/trigger/pipeline`, { method: 'POST', body: form })) as {
          id: number;
          web_url: string;
        };
        await step('triggerPipeline', `triggered GitLab pipeline ${p.id} on ${ref}`, {
          pipelineId: p.id,
          webUrl: p.web_url,
          ref,
        });
        return;
      }
      case 'jira': {
        const j = this.config.jira;
        const key = job.jiraKey;
        const target = JIRA_TARGET[job.toStatus];
        if (!key || !target) return;
        const headers = {
          authorization: `Basic ${Buffer.from(`${j.email}:${j.apiToken}`).toString('base64')}`,
          accept: 'application/json',
        };
        const json = { ...headers, 'content-type': 'application/json' };
        const issue = `${j.url}/rest/api/3/issue/${encodeURIComponent(key)}`;
        const state = (await send(`${issue}?fields=status&expand=transitions`, { headers })) as {
          fields: { status: { name: string } };
          transitions: { id: string; to: { name: string } }[];
        };
        const current = state.fields.status.name;
        if (current !== target) {
          const { transitions } = state;
          const match = transitions.find((t) => t.to.name === target);
          if (!match) throw new Error(`no Jira transition to ${target}`);
          await send(`${issue}/transitions`, {
            method: 'POST',
            headers: json,
            body: JSON.stringify({ transition: { id: match.id } }),
          });
          await step('transitionIssue', `moved Jira issue ${key} from "${current}" to "${target}"`, {
            jiraKey: key,
            from: current,
            to: target,
            transitionId: match.id,
          });
        }
        const text = `${job.product} ${job.name}: ${job.action} (${job.fromStatus} → ${job.toStatus})`;
        const body = { body: { type: 'doc', version: 1, content: [{ type: 'paragraph', content: [{ type: 'text', text }] }] } };
        const c = (await send(`${issue}/comment`, { method: 'POST', headers: json, body: JSON.stringify(body) })) as {
          id: string;
        };
        await step('commentIssue', `commented on Jira issue ${key}`, { jiraKey: key, commentId: c.id });
        return;
      }
      case 'slack': {
        const text = `*${job.product} ${job.name}*: ${job.action} (${job.fromStatus} → ${job.toStatus})`;
        await send(this.config.slackWebhookUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ text }),
        });
        const postedAt = new Date().toISOString();
        await step('notifySlack', `posted to Slack: ${text}`, { postedAt });
        return;
      }
    }
  }
}
