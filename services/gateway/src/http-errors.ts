import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ContractError, type ErrorBody, type ErrorCode, type FieldProblem } from '@patchflow/contracts';
import type { Logger } from '@patchflow/log';
import type { z } from 'zod';

/** The HTTP status of each contract error code; adding a code fails to compile until mapped. */
export function httpStatusOf(code: ErrorCode): number {
  switch (code) {
    case 'validation_failed':
      return 400;
    case 'unauthorized':
      return 401;
    case 'forbidden':
      return 403;
    case 'not_found':
      return 404;
    case 'invalid_transition':
    case 'version_conflict':
    case 'duplicate_patch':
      return 409;
    case 'idempotency_key_reused':
      return 422;
    case 'internal':
      return 500;
    case 'unavailable':
      return 503;
    case 'timeout':
      return 504;
    default: {
      const never: never = code;
      throw new Error(`unmapped error code ${String(never)}`);
    }
  }
}

/**
 * zod issues as field problems, with `where` (body, query, path, header) in front. An unknown
 * key becomes one problem per key, named by its path, so the client sees which field to remove.
 */
export function httpFieldProblems(error: z.ZodError, where: string): FieldProblem[] {
  return error.issues.flatMap((issue) => {
    const base = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: [...base, key].join('.'), message: `unknown field in the ${where}` }));
    }
    return [{ path: base.join('.') || `(${where})`, message: issue.message }];
  });
}

/**
 * HTTP-only error codes, beside the contract's: limits the gateway enforces itself and no service
 * ever answers. They keep the one error body shape.
 */
export type HttpErrorCode = ErrorCode | 'rate_limited';
export type HttpErrorBody = Omit<ErrorBody, 'code'> & { code: HttpErrorCode };

/** An error the gateway answers with its own status (429 and the like). */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    readonly body: HttpErrorBody,
  ) {
    super(body.message);
  }
}

export function sendError(reply: FastifyReply, status: number, body: HttpErrorBody): FastifyReply {
  return reply.code(status).type('application/json').send({ error: body });
}

/**
 * The one error handler: contract errors keep their code; fastify's own client errors (bad JSON,
 * wrong content type, body too large) become `validation_failed` with fastify's status; anything
 * else is logged and answered `internal` without details.
 */
export function errorHandler(logger: Logger) {
  return (error: FastifyError | ContractError | Error, request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof ContractError) return sendError(reply, httpStatusOf(error.code), error.toBody());
    if (error instanceof HttpError) return sendError(reply, error.status, error.body);
    const status = 'statusCode' in error && typeof error.statusCode === 'number' ? error.statusCode : 500;
    if (status >= 400 && status < 500) {
      const message = error.message || 'bad request';
      return sendError(reply, status, {
        code: 'validation_failed',
        message,
        details: { fields: [{ path: '(body)', message }] },
      });
    }
    logger.error({ err: error, method: request.method, route: request.routeOptions.url }, 'request failed');
    return sendError(reply, 500, { code: 'internal', message: 'internal error; see the gateway log' });
  };
}
