import { FakeHttpServer, type FakeResponse, type RecordedCall } from './fake-http-server.js';

export interface FakePipeline {
  id: number;
  iid: number;
  project_id: number;
  ref: string;
  status: 'created';
  source: 'trigger';
  sha: string;
  web_url: string;
  created_at: string;
  updated_at: string;
  /** The `variables[…]` form fields it was triggered with. */
  variables: Record<string, string>;
}

/**
 * GitLab's pipeline trigger API: `POST /api/v4/projects/:id/trigger/pipeline` with form fields
 * `token`, `ref`, `variables[KEY]`. Like GitLab: unknown project or wrong token → 404, missing
 * ref → 400 `ref is missing`, ref that does not exist → 400 `Reference not found`, else 201 with
 * the pipeline.
 */
export class FakeGitlab extends FakeHttpServer {
  readonly pipelines: FakePipeline[] = [];
  private readonly refs: Set<string>;
  private nextId = 1000;

  constructor(
    readonly projectId = '42',
    readonly triggerToken = 'glptt-fake-trigger-token',
    refs: string[] = ['main'],
  ) {
    super();
    this.refs = new Set(refs);
  }

  static async start(options: { projectId?: string; triggerToken?: string; refs?: string[] } = {}): Promise<FakeGitlab> {
    return new FakeGitlab(options.projectId, options.triggerToken, options.refs).listen();
  }

  /** The workflow-gitlab variables that point at this fake. */
  get env(): Record<string, string> {
    return { GITLAB_URL: this.url, GITLAB_PROJECT_ID: this.projectId, GITLAB_TRIGGER_TOKEN: this.triggerToken };
  }

  /** Creates a branch (how an operator fixes "Reference not found"). */
  addRef(ref: string): void {
    this.refs.add(ref);
  }

  protected route(call: RecordedCall): FakeResponse {
    const m = /^\/api\/v4\/projects\/([^/]+)\/trigger\/pipeline$/.exec(call.path);
    if (!m || call.method !== 'POST') return { status: 404, body: { error: '404 Not Found' } };
    if (decodeURIComponent(m[1]!) !== this.projectId) return { status: 404, body: { message: '404 Project Not Found' } };
    const form = parseForm(call);
    if (form.get('token') !== this.triggerToken) return { status: 404, body: { message: '404 Not Found' } };
    const ref = form.get('ref');
    if (!ref) return { status: 400, body: { error: 'ref is missing' } };
    if (!this.refs.has(ref)) return { status: 400, body: { message: { base: ['Reference not found'] } } };
    const variables: Record<string, string> = {};
    for (const [k, v] of form) {
      const vm = /^variables\[(.+)\]$/.exec(k);
      if (vm) variables[vm[1]!] = v;
    }
    const id = this.nextId++;
    const now = new Date().toISOString();
    const pipeline: FakePipeline = {
      id,
      iid: id - 999,
      project_id: Number(this.projectId) || 1,
      ref,
      status: 'created',
      source: 'trigger',
      sha: id.toString(16).padStart(40, '0'),
      web_url: `${this.url}/group/project/-/pipelines/${id}`,
      created_at: now,
      updated_at: now,
      variables,
    };
    this.pipelines.push(pipeline);
    const { variables: _v, ...body } = pipeline;
    return { status: 201, body };
  }
}

function parseForm(call: RecordedCall): URLSearchParams {
  const type = String(call.headers['content-type'] ?? '');
  if (type.startsWith('application/json')) {
    const json = JSON.parse(call.body || '{}') as Record<string, unknown>;
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(json)) {
      if (k === 'variables' && v && typeof v === 'object') {
        for (const [vk, vv] of Object.entries(v)) p.set(`variables[${vk}]`, String(vv));
      } else p.set(k, String(v));
    }
    return p;
  }
  return new URLSearchParams(call.body);
}
