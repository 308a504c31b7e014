import { z } from 'zod';
import type { StepLink } from '@patchflow/contracts';
import { NotConfigured, PermanentError, type HttpClient, type HttpRequest } from '@patchflow/workflow-runtime';

export interface JiraConfig {
  url: string;
  email: string;
  apiToken: string;
}

export interface JiraTransition {
  id: string;
  name: string;
  toStatus: string;
}

/** What the workflow reads of an issue before moving it: its status and where it can go from there. */
export interface JiraIssueState {
  status: string;
  transitions: JiraTransition[];
}

// Get issue with `expand=transitions`: the top-level `transitions` has the /transitions GET's shape.
const IssueStateResponse = z.object({
  fields: z.object({ status: z.object({ name: z.string() }) }),
  transitions: z.array(z.object({ id: z.string(), name: z.string(), to: z.object({ name: z.string() }) })),
});
const CommentResponse = z.object({ id: z.string() });

/**
 * Port: the few Jira issue operations the workflow needs. Reads are safe to repeat; `transition`
 * is idempotent when the caller checked the status first; `addComment` is not (record its id).
 * `configured` is false when no Jira is set up (every call would throw NotConfigured).
 */
export interface JiraIssues {
  readonly configured: boolean;
  /** The issue's status and the transitions available from it, in one read. */
  issueState(key: string, signal: AbortSignal): Promise<JiraIssueState>;
  transition(key: string, transitionId: string, signal: AbortSignal): Promise<void>;
  /** `body` is an Atlassian Document Format document; resolves to the comment id. */
  addComment(key: string, body: unknown, signal: AbortSignal): Promise<string>;
  /** The issue's page for people (`JIRA_URL/browse/KEY`); optional: a stand-in may have none. */
  issueLink?(key: string): StepLink | undefined;
}

/**
 * Jira Cloud REST v3 with Basic auth (email + API token, never logged). Moving an issue
 * is naturally idempotent when the caller checks the current status first; comments are not.
 */
export class JiraClient implements JiraIssues {
  constructor(
    private readonly http: HttpClient,
    private readonly config: JiraConfig | undefined,
  ) {}

  get configured(): boolean {
    return this.config !== undefined;
  }

  issueLink(key: string): StepLink | undefined {
    return this.config
      ? { label: key, url: `${this.config.url.replace(/\/+$/, '')}/browse/${encodeURIComponent(key)}` }
      : undefined;
  }

  /** One Get issue: `fields=status` for the status, `expand=transitions` for where it can go. */
  async issueState(key: string, signal: AbortSignal): Promise<JiraIssueState> {
    const what = `Jira get issue ${key}`;
    const res = await this.send(
      { method: 'GET', path: `/rest/api/3/issue/${encodeURIComponent(key)}?fields=status&expand=transitions`, what },
      signal,
    );
    const issue = parse(IssueStateResponse, res, what);
    return {
      status: issue.fields.status.name,
      transitions: issue.transitions.map((t) => ({ id: t.id, name: t.name, toStatus: t.to.name })),
    };
  }

  async transition(key: string, transitionId: string, signal: AbortSignal): Promise<void> {
    await this.send(
      {
        method: 'POST',
        path: `/rest/api/3/issue/${encodeURIComponent(key)}/transitions`,
        body: { transition: { id: transitionId } },
        what: `Jira transition ${key}`,
      },
      signal,
    );
  }

  /** Adds a comment; `body` is an Atlassian Document Format document. Returns the comment id. */
  async addComment(key: string, body: unknown, signal: AbortSignal): Promise<string> {
    const res = await this.send(
      {
        method: 'POST',
        path: `/rest/api/3/issue/${encodeURIComponent(key)}/comment`,
        body: { body },
        what: `Jira comment on ${key}`,
      },
      signal,
    );
    return parse(CommentResponse, res, `Jira comment on ${key}`).id;
  }

  private async send(
    r: { method: HttpRequest['method']; path: string; body?: unknown; what: string },
    signal: AbortSignal,
  ): Promise<unknown> {
    const c = this.config;
    if (!c) throw new NotConfigured('JIRA_URL, JIRA_EMAIL and JIRA_API_TOKEN are not all set');
    const res = await this.http.send({
      method: r.method,
      url: `${c.url.replace(/\/+$/, '')}${r.path}`,
      headers: {
        authorization: `Basic ${Buffer.from(`${c.email}:${c.apiToken}`).toString('base64')}`,
        accept: 'application/json',
        ...(r.body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(r.body !== undefined ? { body: JSON.stringify(r.body) } : {}),
      what: r.what,
      signal,
    });
    return res.text ? res.json() : undefined;
  }
}

function parse<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new PermanentError(`${what}: unexpected response shape`);
  return parsed.data;
}
