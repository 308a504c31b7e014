import type { Logger } from '@patchflow/log';

/**
 * Starts a service process: a startup failure (bad env, Postgres or NATS unreachable) prints
 * its one-line message and exits 1 instead of a stack trace.
 */
export async function startOrExit<T>(start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}\n`);
    process.exit(1);
  }
}

/**
 * SIGTERM / SIGINT run `stop` once and exit 0; a second signal exits at once (an operator who
 * presses Ctrl-C twice means it).
 */
export function stopOnSignals(stop: () => Promise<void>, logger: Logger): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info({ signal }, 'stopping');
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
