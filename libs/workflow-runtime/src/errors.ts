/**
 * The closed set of ways a workflow execution can fail. Handlers (and the HTTP client) throw
 * these; the runtime switches over `failureKind` (retry-policy.ts) to decide nak / dead-letter / skip.
 */

/** Worth retrying later: network error, timeout, 5xx, 429. `retryAfterMs` honours `Retry-After`. */
export class TransientError extends Error {
  override name = 'TransientError';
  constructor(
    message: string,
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Retrying cannot help (4xx, bad input, no matching Jira transition): dead-letter at once. */
export class PermanentError extends Error {
  override name = 'PermanentError';
  /** The HTTP status that made it permanent, when it came from an HTTP call. */
  readonly status: number | undefined;
  constructor(message: string, options?: { cause?: unknown; status?: number }) {
    super(message, options);
    this.status = options?.status;
  }
}

/** The external system has no configuration: the execution is skipped and counts as done. */
export class NotConfigured extends Error {
  override name = 'NotConfigured';
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.name && error.name !== 'Error' ? `${error.name}: ${error.message}` : error.message;
  return String(error);
}
