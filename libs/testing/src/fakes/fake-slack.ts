import { FakeHttpServer, type FakeResponse, type RecordedCall } from './fake-http-server.js';

export interface SlackPost {
  text?: string;
  blocks?: unknown[];
  [key: string]: unknown;
}

/**
 * The `<…>` control sequences Slack would act on in a post — `<!channel>`, `<@U123>`,
 * `<https://x|y>`: the top-level `text` and every mrkdwn text object are parsed, plain_text
 * objects are not. A post built from escaped user input has none of its own.
 */
export function slackControlSequences(post: { text?: unknown; blocks?: unknown }): string[] {
  const parsed: string[] = [];
  if (typeof post.text === 'string') parsed.push(post.text);
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!node || typeof node !== 'object') return;
    const o = node as Record<string, unknown>;
    if (o.type === 'mrkdwn' && typeof o.text === 'string') parsed.push(o.text);
    for (const [k, v] of Object.entries(o)) if (k !== 'text' || typeof v !== 'string') visit(v);
  };
  visit(post.blocks);
  return parsed.flatMap((t) => t.match(/<[^>]*>/g) ?? []);
}

/**
 * A Slack incoming webhook: `POST /services/T…/B…/<secret>` with a JSON body carrying `text`
 * and/or `blocks`. Like Slack: another path → 404 `no_service`; a body that is not JSON or has
 * neither text nor blocks → 400 `invalid_payload`; blocks not an array → 400 `invalid_blocks`;
 * a header block whose text is not plain_text of 1–150 characters → 400 `invalid_blocks`;
 * else 200 `ok` (plain text).
 */
export class FakeSlack extends FakeHttpServer {
  readonly posts: SlackPost[] = [];
  readonly webhookPath = `/services/T0FAKE/B0FAKE/${Math.random().toString(36).slice(2, 14)}`;

  static async start(): Promise<FakeSlack> {
    return new FakeSlack().listen();
  }

  get webhookUrl(): string {
    return `${this.url}${this.webhookPath}`;
  }

  /** The workflow-slack variable that points at this fake. */
  get env(): Record<string, string> {
    return { SLACK_WEBHOOK_URL: this.webhookUrl };
  }

  protected route(call: RecordedCall): FakeResponse {
    if (call.method !== 'POST' || call.path !== this.webhookPath) return { status: 404, body: 'no_service' };
    let payload: SlackPost;
    try {
      payload = JSON.parse(call.body) as SlackPost;
    } catch {
      return { status: 400, body: 'invalid_payload' };
    }
    if (!payload || typeof payload !== 'object' || (typeof payload.text !== 'string' && payload.blocks === undefined)) {
      return { status: 400, body: 'invalid_payload' };
    }
    if (payload.blocks !== undefined && !Array.isArray(payload.blocks)) return { status: 400, body: 'invalid_blocks' };
    for (const block of payload.blocks ?? []) {
      const b = block as { type?: unknown; text?: { type?: unknown; text?: unknown } };
      if (b.type !== 'header') continue;
      const t = b.text;
      if (t?.type !== 'plain_text' || typeof t.text !== 'string' || t.text.length < 1 || [...t.text].length > 150) {
        return { status: 400, body: 'invalid_blocks' };
      }
    }
    this.posts.push(payload);
    return { status: 200, body: 'ok' };
  }
}
