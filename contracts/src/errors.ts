import { z } from 'zod';

/**
 * The closed set of error kinds a reply can carry. The gateway maps each to an HTTP status;
 * callers switch over them with an exhaustiveness check.
 */
export const errorCodes = [
  'validation_failed',
  'not_found',
  'invalid_transition',
  'version_conflict',
  /** The same idempotency key was sent again by another caller or with a different request. */
  'idempotency_key_reused',
  /** A patch of this product and name exists already (details: existingId, existingName, product). */
  'duplicate_patch',
  'forbidden',
  'unauthorized',
  'timeout',
  'unavailable',
  'internal',
] as const;
export type ErrorCode = (typeof errorCodes)[number];

export const FieldProblem = z.object({ path: z.string(), message: z.string() });
export type FieldProblem = z.infer<typeof FieldProblem>;

export const ErrorBody = z.object({
  code: z.enum(errorCodes),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

/** Every request-reply answer is one of these two shapes. */
export function replyEnvelope<T extends z.ZodType>(result: T) {
  return z.discriminatedUnion('ok', [
    z.object({ ok: z.literal(true), result }),
    z.object({ ok: z.literal(false), error: ErrorBody }),
  ]);
}
export type Reply<T> = { ok: true; result: T } | { ok: false; error: ErrorBody };

/** Turns zod issues into the `validation_failed` field list (paths like `patch.name`). */
export function fieldProblems(error: z.ZodError): FieldProblem[] {
  return error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(message)', message: i.message }));
}

/** An error that knows its contract code; thrown by services, turned into an error reply. */
export class ContractError extends Error {
  override name = 'ContractError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  toBody(): ErrorBody {
    return this.details
      ? { code: this.code, message: this.message, details: this.details }
      : { code: this.code, message: this.message };
  }

  static validation(problems: FieldProblem[], what = 'request'): ContractError {
    return new ContractError(
      'validation_failed',
      `invalid ${what}: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
      { fields: problems },
    );
  }
}
