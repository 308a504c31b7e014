import { FakeHttpServer, type FakeResponse, type RecordedCall } from './fake-http-server.js';

export interface SlackPost {
  text?: string;
  blocks?: unknown[];
  [key: string]: unknown;
}

/**
 * A Slack incoming webhook: `POST /services/T…/B…/<secret>` with a JSON body carrying `text`
 * and/or `blocks`. Like Slack: another path → 404 `no_service`; a body that is not JSON or has
 * neither text nor blocks → 400 `invalid_payload`; blocks not an array → 400 `invalid_blocks`;
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
    this.posts.push(payload);
    return { status: 200, body: 'ok' };
  }
}
