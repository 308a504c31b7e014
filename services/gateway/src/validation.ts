import type { FastifySchemaCompiler, FastifySerializerCompiler } from 'fastify';
import { ContractError } from '@patchflow/contracts';
import type { z } from 'zod';
import { httpFieldProblems } from './http-errors.js';

/** How a part of the request is named in `validation_failed` messages. */
const where: Record<string, string> = { body: 'body', querystring: 'query', params: 'path', headers: 'headers' };

/**
 * Validates each request part with the route's zod schema (the type provider's types follow the
 * same schemas). A failure is a `validation_failed` ContractError whose `details.fields` name each
 * field — the one error shape of the gateway — instead of fastify's AJV-style error.
 *
 * - An absent body counts as `{}`: `POST /api/patches/:id/close` needs no body (fastify hands a
 *   missing body to the validator as `null`).
 * - Headers are checked but never replaced: the parsed object would drop every header the schema
 *   does not name.
 */
export const validatorCompiler: FastifySchemaCompiler<z.ZodType> = ({ schema, httpPart }) => {
  const part = httpPart ?? 'body';
  return (data) => {
    const input = part === 'body' && (data === null || data === undefined) ? {} : data;
    const parsed = schema.safeParse(input);
    if (!parsed.success) {
      const name = where[part] ?? part;
      return { error: ContractError.validation(httpFieldProblems(parsed.error, name), name) };
    }
    return part === 'headers' ? {} : { value: parsed.data };
  };
};

/**
 * Responses are written with plain `JSON.stringify`: their schemas document the API (OpenAPI) and
 * type the handlers, but re-validating every answer would spend CPU on what the services already
 * validated when they built it.
 */
export const serializerCompiler: FastifySerializerCompiler<unknown> = () => (data) => JSON.stringify(data);
