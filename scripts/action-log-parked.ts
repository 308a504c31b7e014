/**
 * Lists the messages the action-log parked (could not apply, kept for operators):
 *   npm run action-log:parked [-- --json] [-- --limit N] [-- --help]
 * Reads ACTION_LOG_DATABASE_URL and LOG_LEVEL like the service; needs no NATS.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { parseEnv } from '@patchflow/config';
import { createLogger } from '@patchflow/log';
import { actionLogEnv, openActionLogOrm, ParkedMessages, type ParkedMessage } from '@patchflow/action-log';

const usage = `Usage: npm run action-log:parked [-- --json] [-- --limit N] [-- --help]

Lists the messages the action-log gave up on, oldest first: the message could not be applied to
the projection (it fails the contract, Postgres rejected its data, or it kept failing for
ACTION_LOG_MAX_DELIVERIES deliveries), so it was parked instead of blocking the ones behind it.
The message itself stays in its stream; look at it with \`nats stream get <stream> <seq>\`.

Columns: when parked (UTC), stream/sequence, subject, deliveries, reason, error.
Reasons: invalid (fails the contract), rejected (SQLSTATE 22xxx/23xxx), exhausted (retries used up).

After fixing the cause, \`npm run action-log:rebuild\` replays the streams: a parked message
that applies now leaves this list.

Options:
  --json      one JSON document: { total, messages: [{ parkedAt, stream, streamSeq, subject,
              consumer, reason, deliveries, error, dataBase64 }] } (dataBase64: the exact body)
  --limit N   at most N messages (default 100)
  --help      show this text

Environment: ACTION_LOG_DATABASE_URL (default postgres://root@127.0.0.1:5432/patchflow_action_log), LOG_LEVEL.
`;

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    limit: { type: 'string', default: '100' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write(usage);
  process.exit(0);
}
const limit = Number(values.limit);
if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) {
  process.stderr.write(`--limit must be an integer from 1 to 100000 (got "${values.limit}")\n`);
  process.exit(2);
}

const env = parseEnv(
  z.object({ ACTION_LOG_DATABASE_URL: actionLogEnv.shape.ACTION_LOG_DATABASE_URL, LOG_LEVEL: actionLogEnv.shape.LOG_LEVEL }),
);
const logger = createLogger('action-log-parked', env.LOG_LEVEL === 'info' ? 'warn' : env.LOG_LEVEL);
const orm = await openActionLogOrm(env.ACTION_LOG_DATABASE_URL, logger);
try {
  const { total, messages } = await new ParkedMessages(orm).list(limit);
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ total, messages: messages.map(toJson) }, null, 2)}\n`);
  } else {
    process.stdout.write(table(messages));
    process.stdout.write(
      total === 0
        ? 'no parked messages\n'
        : `${total} parked message${total === 1 ? '' : 's'}${total > messages.length ? ` (showing the first ${messages.length}; --limit)` : ''}\n`,
    );
  }
} finally {
  await orm.close();
}

function toJson(m: ParkedMessage) {
  return {
    parkedAt: m.parkedAt.toISOString(),
    stream: m.stream,
    streamSeq: m.streamSeq,
    subject: m.subject,
    consumer: m.consumer,
    reason: m.reason,
    deliveries: m.deliveries,
    error: m.error,
    dataBase64: Buffer.from(m.data).toString('base64'),
  };
}

function table(messages: ParkedMessage[]): string {
  if (messages.length === 0) return '';
  const header = ['PARKED AT (UTC)', 'STREAM/SEQ', 'SUBJECT', 'DELIVERIES', 'REASON', 'ERROR'];
  const rows = messages.map((m) => [
    m.parkedAt.toISOString(),
    `${m.stream}/${m.streamSeq}`,
    printable(m.subject),
    String(m.deliveries),
    m.reason,
    printable(m.error),
  ]);
  const widths = header.slice(0, -1).map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i < widths.length ? c.padEnd(widths[i] ?? 0) : c))
      .join('  ')
      .trimEnd();
  return `${[header, ...rows].map(line).join('\n')}\n`;
}

/** Control characters in stored text would move the terminal's cursor: show them escaped. */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what this escapes
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
