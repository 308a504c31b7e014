import { FakeHttpServer, type FakeResponse, type RecordedCall } from './fake-http-server.js';

export interface FakeJiraTransition {
  id: string;
  name: string;
  to: string;
}

export interface FakeJiraIssue {
  key: string;
  status: string;
  comments: Array<{ id: string; body: unknown }>;
  /** Transition ids applied, in order. */
  transitionsApplied: string[];
}

/** A small default workflow: every status can move to the others, except Done only reopens. */
const defaultTransitions = (status: string): FakeJiraTransition[] => {
  const all: FakeJiraTransition[] = [
    { id: '11', name: 'Start progress', to: 'In Progress' },
    { id: '21', name: 'Ready for QA', to: 'Ready for QA' },
    { id: '31', name: 'Done', to: 'Done' },
    { id: '41', name: 'Reopen', to: 'To Do' },
  ];
  if (status === 'Done') return all.filter((t) => t.to === 'To Do');
  return all.filter((t) => t.to !== status);
};

/**
 * Jira Cloud REST v3, the parts the jira workflow uses, with Basic auth (email:API token → else
 * 401): `GET /rest/api/3/issue/{key}?fields=status` (with `expand=transitions`, the available
 * transitions come along as a top-level `transitions`), `GET|POST /rest/api/3/issue/{key}/transitions`
 * (POST `{ transition: { id } }` → 204, unknown id → 400), `POST /rest/api/3/issue/{key}/comment`
 * with an Atlassian Document Format body (→ 201, not ADF → 400). Unknown issue → 404.
 */
export class FakeJira extends FakeHttpServer {
  readonly issues = new Map<string, FakeJiraIssue>();
  private nextComment = 10_000;
  /** Issue key → the Jira status whose transitions answer 503 (`failTransitionsTo`). */
  private readonly outages = new Map<string, string>();

  constructor(
    readonly email = 'bot@example.com',
    readonly apiToken = 'fake-jira-api-token',
    readonly transitionsFor: (status: string) => FakeJiraTransition[] = defaultTransitions,
  ) {
    super();
  }

  static async start(options: { email?: string; apiToken?: string } = {}): Promise<FakeJira> {
    return new FakeJira(options.email, options.apiToken).listen();
  }

  /** The workflow-jira variables that point at this fake. */
  get env(): Record<string, string> {
    return { JIRA_URL: this.url, JIRA_EMAIL: this.email, JIRA_API_TOKEN: this.apiToken };
  }

  addIssue(key: string, status = 'To Do'): FakeJiraIssue {
    const issue: FakeJiraIssue = { key, status, comments: [], transitionsApplied: [] };
    this.issues.set(key, issue);
    return issue;
  }

  /**
   * Until the returned `recover()` is called, moving `key` to `toStatus` answers 503 (Jira's
   * "service unavailable" body) while every other call, other moves of the issue included,
   * succeeds: one transition's move fails and is retried while a newer one goes through.
   */
  failTransitionsTo(key: string, toStatus: string): () => void {
    this.outages.set(key, toStatus);
    return () => {
      if (this.outages.get(key) === toStatus) this.outages.delete(key);
    };
  }

  /** The transitions available from `status`, as both Get transitions and `expand=transitions` show them. */
  private transitionViews(status: string) {
    return this.transitionsFor(status).map((t) => ({
      id: t.id,
      name: t.name,
      to: statusView(t.to),
      hasScreen: false,
      isGlobal: true,
      isInitial: false,
      isAvailable: true,
      isConditional: false,
    }));
  }

  protected route(call: RecordedCall): FakeResponse {
    const expected = `Basic ${Buffer.from(`${this.email}:${this.apiToken}`).toString('base64')}`;
    if (call.headers.authorization !== expected) {
      return {
        status: 401,
        body: { errorMessages: ['You are not authenticated. Authentication required to perform this operation.'], errors: {} },
      };
    }
    const m = /^\/rest\/api\/3\/issue\/([^/]+)(\/transitions|\/comment)?$/.exec(call.path);
    if (!m) return { status: 404, body: { errorMessages: ['Not found'], errors: {} } };
    const issue = this.issues.get(decodeURIComponent(m[1]!));
    if (!issue) {
      return {
        status: 404,
        body: { errorMessages: ['Issue does not exist or you do not have permission to see it.'], errors: {} },
      };
    }
    const sub = m[2] ?? '';
    if (call.method === 'POST' && !String(call.headers['content-type'] ?? '').startsWith('application/json')) {
      return { status: 415, body: { errorMessages: ['Unsupported Media Type'], errors: {} } };
    }
    if (sub === '' && call.method === 'GET') {
      // Jira echoes `expand` and honours the expansions it knows; only `transitions` is faked.
      const expand = call.query.get('expand');
      const withTransitions = (expand ?? '').split(',').some((e) => e.trim() === 'transitions');
      return {
        status: 200,
        body: {
          ...(expand ? { expand } : {}),
          id: String(10_000 + issue.key.length),
          key: issue.key,
          fields: { status: statusView(issue.status) },
          ...(withTransitions ? { transitions: this.transitionViews(issue.status) } : {}),
        },
      };
    }
    if (sub === '/transitions' && call.method === 'GET') {
      return { status: 200, body: { expand: 'transitions', transitions: this.transitionViews(issue.status) } };
    }
    if (sub === '/transitions' && call.method === 'POST') {
      const body = parseJson(call.body) as { transition?: { id?: unknown } } | undefined;
      const id = body?.transition?.id;
      const t = this.transitionsFor(issue.status).find((x) => x.id === String(id));
      if (!t) {
        return {
          status: 400,
          body: { errorMessages: [`Transition id '${String(id)}' is not valid for this issue.`], errors: {} },
        };
      }
      if (this.outages.get(issue.key) === t.to) {
        return { status: 503, body: { errorMessages: ['Service Unavailable'], errors: {} } };
      }
      issue.status = t.to;
      issue.transitionsApplied.push(t.id);
      return { status: 204 };
    }
    if (sub === '/comment' && call.method === 'POST') {
      const body = parseJson(call.body) as { body?: { type?: unknown; version?: unknown; content?: unknown } } | undefined;
      const doc = body?.body;
      if (!doc || doc.type !== 'doc' || doc.version !== 1 || !Array.isArray(doc.content)) {
        return { status: 400, body: { errorMessages: [], errors: { comment: 'Comment body is not valid!' } } };
      }
      const id = String(this.nextComment++);
      issue.comments.push({ id, body: doc });
      return {
        status: 201,
        body: {
          id,
          self: `${this.url}/rest/api/3/issue/${issue.key}/comment/${id}`,
          body: doc,
          created: new Date().toISOString(),
        },
      };
    }
    return { status: 405, body: { errorMessages: ['Method not allowed'], errors: {} } };
  }
}

function statusView(name: string) {
  return { name, id: String(Math.abs(hash(name)) % 10_000), statusCategory: { key: name === 'Done' ? 'done' : 'indeterminate' } };
}

function hash(s: string): number {
  let h = 0;
  for (const c of s) h = (h * 31 + c.charCodeAt(0)) | 0;
  return h;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
