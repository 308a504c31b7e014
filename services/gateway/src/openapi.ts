import { z } from 'zod';
import { lifecycle } from '@patchflow/contracts';
import {
  ActionBody,
  CreatePatchBody,
  HistoryQuery,
  LifecycleQuery,
  ListPatchesQuery,
  responses,
  TransitionBody,
  kebabCase,
} from './http-schemas.js';

type Json = Record<string, unknown>;

const schema = (s: z.ZodType, io: 'input' | 'output' = 'output'): Json =>
  z.toJSONSchema(s, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Json;

const ref = (name: keyof typeof responses) => ({ $ref: `#/components/schemas/${name}` });

const json = (s: Json) => ({ content: { 'application/json': { schema: s } } });

function errors(...statuses: number[]): Json {
  const text: Record<number, string> = {
    400: 'validation_failed (details.fields names each bad field)',
    401: 'unauthorized: missing or unknown token',
    403: 'forbidden: the role may not do this',
    404: 'not_found',
    409: 'invalid_transition (details: currentStatus, allowedActions) or version_conflict (details: currentVersion, currentStatus)',
    503: 'unavailable: NATS or the owning service is not reachable',
    504: 'timeout: the owning service did not answer in time',
  };
  return Object.fromEntries(
    [...statuses, 401, 503, 504].map((s) => [String(s), { description: text[s] ?? 'error', ...json(ref('ErrorResponse')) }]),
  );
}

function queryParameters(s: z.ZodObject): Json[] {
  const js = schema(s, 'input') as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(js.properties ?? {}).map(([name, p]) => ({
    name,
    in: 'query',
    required: js.required?.includes(name) ?? false,
    schema: p,
  }));
}

const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
const idempotencyHeader = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description: 'A retried request with the same key returns the first result and writes nothing.',
  schema: { type: 'string', minLength: 1, maxLength: 200 },
};

/** The OpenAPI 3.1 document, generated from the same zod schemas the gateway validates with. */
export function buildOpenApi(): Json {
  const actionPaths = Object.fromEntries(
    lifecycle.actions.map((a) => [
      `/api/patches/{id}/${kebabCase(a.name)}`,
      {
        post: {
          operationId: a.name,
          summary: `${a.label}: ${a.from.join(' | ')} → ${a.to} (roles: ${a.roles.join(', ')}${a.requiredFields.length ? `; requires ${a.requiredFields.join(', ')}` : ''})`,
          tags: ['transitions'],
          parameters: [idParam, idempotencyHeader],
          requestBody: { required: false, ...json(schema(ActionBody, 'input')) },
          responses: { '200': { description: 'transition committed', ...json(ref('TransitionResult')) }, ...errors(400, 403, 404, 409) },
        },
      },
    ]),
  );
  return {
    openapi: '3.1.0',
    info: {
      title: 'Patchflow gateway',
      version: '1',
      description: 'Every call is a NATS request to the service that owns the data. Errors: {"error": {code, message, details}}.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: Object.fromEntries(Object.entries(responses).map(([name, s]) => [name, schema(s)])),
    },
    security: [{ bearer: [] }],
    paths: {
      '/api/patches': {
        post: {
          operationId: 'createPatch',
          tags: ['patches'],
          parameters: [idempotencyHeader],
          requestBody: { required: true, ...json(schema(CreatePatchBody, 'input')) },
          responses: {
            '201': { description: 'created', ...json(ref('CreatePatchResult')) },
            '200': { description: 'replayed (same Idempotency-Key)', ...json(ref('CreatePatchResult')) },
            ...errors(400, 403),
          },
        },
        get: {
          operationId: 'listPatches',
          tags: ['patches'],
          parameters: queryParameters(ListPatchesQuery),
          responses: { '200': { description: 'a page of patches', ...json(ref('ListPatchesResult')) }, ...errors(400) },
        },
      },
      '/api/patches/{id}': {
        get: {
          operationId: 'getPatch',
          tags: ['patches'],
          parameters: [idParam],
          responses: { '200': { description: 'the patch and the actions allowed now', ...json(ref('PatchDetail')) }, ...errors(400, 404) },
        },
      },
      '/api/patches/{id}/transitions': {
        post: {
          operationId: 'transitionPatch',
          tags: ['transitions'],
          parameters: [idParam, idempotencyHeader],
          requestBody: { required: true, ...json(schema(TransitionBody, 'input')) },
          responses: { '200': { description: 'transition committed', ...json(ref('TransitionResult')) }, ...errors(400, 403, 404, 409) },
        },
      },
      ...actionPaths,
      '/api/patches/{id}/history': {
        get: {
          operationId: 'patchHistory',
          tags: ['history'],
          parameters: [idParam, ...queryParameters(HistoryQuery)],
          responses: {
            '200': { description: 'transitions with their executions and steps', ...json(ref('ActionLogHistoryResult')) },
            ...errors(400),
          },
        },
      },
      '/api/patches/{id}/events': {
        get: {
          operationId: 'patchEvents',
          tags: ['history'],
          summary: 'Server-Sent Events: `updated` whenever the patch history changes. Accepts ?access_token= (EventSource sends no headers).',
          parameters: [idParam],
          responses: { '200': { description: 'text/event-stream' }, ...errors(400) },
        },
      },
      '/api/work/{id}': {
        get: {
          operationId: 'getWork',
          tags: ['history'],
          parameters: [idParam],
          responses: { '200': { description: 'one work item', ...json(ref('ActionLogWorkResult')) }, ...errors(400, 404) },
        },
      },
      '/api/lifecycle': {
        get: {
          operationId: 'lifecycle',
          tags: ['meta'],
          parameters: queryParameters(LifecycleQuery),
          responses: { '200': { description: 'the lifecycle definition and its Mermaid text', ...json(ref('LifecycleView')) }, ...errors(400) },
        },
      },
      '/api/session': {
        get: { operationId: 'session', tags: ['meta'], responses: { '200': { description: 'who the token is', ...json(ref('Caller')) }, ...errors() } },
      },
      '/healthz': { get: { operationId: 'health', tags: ['meta'], security: [], responses: { '200': { description: 'the process runs' } } } },
      '/readyz': {
        get: {
          operationId: 'ready',
          tags: ['meta'],
          security: [],
          responses: { '200': { description: 'NATS reachable' }, '503': { description: 'NATS not reachable' } },
        },
      },
    },
  };
}
