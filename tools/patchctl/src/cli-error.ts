/**
 * Exit codes scripts can trust:
 * - 0: done, nothing to report (or the report asked for holds no finding);
 * - 1: a finding or a failure of the work itself — a retry still failing, a dead letter not
 *   found, open dead letters under `status --fail-on-dlq`, a service down under `--fail-on-down`;
 * - 2: the command could not run — bad usage (unknown option or workflow, bad range or
 *   duration), NATS unreachable or refusing the credentials, a bad environment.
 */
export const EXIT = { ok: 0, finding: 1, usage: 2 } as const;

/** The one error the CLI prints: one line on stderr (and `{ error }` on stdout under --json). */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: 1 | 2,
    /** A stable word for scripts reading `--json`: usage, unreachable, not_found, failed, … */
    readonly code: string,
  ) {
    super(message);
  }
}

export const usageError = (message: string): CliError => new CliError(message, EXIT.usage, 'usage');
export const findingError = (message: string, code = 'failed'): CliError => new CliError(message, EXIT.finding, code);

/** Any thrown value as one line (multi-line messages such as EnvError's are joined). */
export function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' ');
}

/** Whether a command already printed its JSON (an error after it then stays on stderr only). */
export const output = { jsonPrinted: false };
