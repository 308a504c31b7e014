import { readFile } from 'node:fs/promises';
import type { FastifyInstance, FastifyReply } from 'fastify';

const publicDir = new URL('../../public/', import.meta.url);

/**
 * The Action History UI and the API reference: static files, no build step, nothing from a CDN.
 * The UI asks for a token itself; the reference renders the public OpenAPI document.
 */
const files: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'lifecycle-diagram.js': 'text/javascript; charset=utf-8',
  'styles.css': 'text/css; charset=utf-8',
  'docs.html': 'text/html; charset=utf-8',
  'docs.js': 'text/javascript; charset=utf-8',
  'docs.css': 'text/css; charset=utf-8',
};

export function uiRoutes(app: FastifyInstance): void {
  const serve = (name: string) => async (_request: unknown, reply: FastifyReply) => {
    const type = files[name];
    if (!type) return reply.code(404).send();
    const body = await readFile(new URL(name, publicDir));
    return reply
      .type(type)
      .header('cache-control', 'no-cache')
      .header(
        'content-security-policy',
        "default-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
      )
      .send(body);
  };
  // Public: the pages hold no data. Only these exact files are served. Not API operations, so
  // hidden from the OpenAPI document.
  const open = { config: { public: true }, schema: { hide: true } };
  app.get('/', open, serve('index.html'));
  app.get('/api/docs', open, serve('docs.html'));
  for (const name of Object.keys(files)) app.get(`/ui/${name}`, open, serve(name));
}
