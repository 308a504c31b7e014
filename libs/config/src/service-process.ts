import type { Logger } from '@patchflow/log';

/**
 * Node flags every service process runs with: `npm start`, the container entrypoint
 * (deploy/docker-entrypoint.sh repeats them; a test compares) and the tests' and benchmark's
 * processes. V8 grows each of the young generation's semi-spaces to 16 MB under load by default:
 * most of a busy service's resident memory (the action-log peaked at 165–182 MB). At 8 MB every
 * service stays under 150 MB in a short run with no measurable CPU cost (docs/FIELD-NOTES.md); at
 * 2 MB, a quarter more CPU. Under sustained load the old generation grew too: with no limit V8
 * lets it reach up to four times what is live before a full collection (the action-log at 156–193
 * MB after a minute at full speed, 72 MB again after one); a limit of 160 MB makes it collect at
 * about 1.3 times (118–123 MB, CPU within the noise) and keeps a service inside the manifests'
 * 256 MiB. A service whose live heap really passes 160 MB dies (and is restarted) instead of
 * swelling: none comes near (30–50 MB live under load).
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8', '--max-old-space-size=160'];

/** Errors whose message already says what is wrong and how to fix it, in one line. */
const STARTUP_ERRORS = new Set(['EnvError', 'DatabaseUnreachableError', 'BusUnreachableError', 'BusPermissionError']);

/** `--help` / `-h`: prints the text and exits 0; otherwise returns. */
export function exitWithHelpIfAsked(text: string): void {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    console.log(text);
    process.exit(0);
  }
}

/**
 * Starts a service process. A startup failure it can explain (bad environment, Postgres or NATS
 * unreachable) prints `<service>: <message>` and exits 2 instead of a stack trace; anything else
 * is a bug, printed whole, exit 1.
 */
export async function startOrExit<T>(service: string, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (err) {
    if (err instanceof Error && STARTUP_ERRORS.has(err.name)) {
      process.stderr.write(`${service}: ${err.message}\n`);
      process.exit(2);
    }
    console.error(err);
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
    logger.info({ signal }, 'shutting down');
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
