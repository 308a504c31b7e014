import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pino from 'pino';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actionLogEndpoints } from '@patchflow/contracts';
import { repoRoot, testLogLevel, testPool, waitFor } from '@patchflow/testing';
import { createLogger } from '@patchflow/log';
import { rebuildActionLog, type PoisonPolicy } from '../src/index.js';
import { actionLogUnderTest, step, workItem } from './fixtures.js';

const execFileAsync = promisify(execFile);

// Small numbers so the "retried, then parked" path takes a fraction of a second.
const policy: PoisonPolicy = { maxDeliveries: 3, retryBaseMs: 50, retryMaxMs: 200 };

const logLines: Record<string, unknown>[] = [];
// The service's own log, kept to check what a parked message leaves in it.
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const line of chunk.toString().split('\n')) if (line) logLines.push(JSON.parse(line) as Record<string, unknown>);
    done();
  },
});
const logger = pino({ name: 'action-log', level: 'warn' }, sink);
const actionLog = actionLogUnderTest({ database: 'action_log_parking', namespace: 'alpark' }, { logger, poisonPolicy: policy });
const { publishWork, publishEvent } = actionLog;
let sql: pg.Pool;
const encoder = new TextEncoder();

beforeAll(() => {
  sql = testPool(actionLog.db.url);
});

afterAll(async () => {
  await sql?.end();
});

/** Bytes exactly as given: what an attacker (or a broken publisher) can put on the stream. */
const publishRaw = async (subject: string, data: Uint8Array) => (await actionLog.bus.admin.publishRaw(subject, data)).seq;

interface ParkedRow {
  stream: string;
  stream_seq: string;
  subject: string;
  consumer: string;
  reason: string;
  error: string;
  deliveries: number;
  data: Buffer;
}
const parkedRows = async () => (await sql.query<ParkedRow>('select * from parked_message order by stream, stream_seq')).rows;

async function consumersIdle(): Promise<boolean> {
  const defs = actionLog.bus.topology.actionLogConsumers();
  for (const def of [defs.work, defs.events]) {
    const info = await actionLog.bus.admin.consumerInfo(def.stream, def.durableName);
    if (info.pending > 0 || info.ackPending > 0) return false;
  }
  return true;
}

describe('a message the projection cannot apply', () => {
  const patchId = randomUUID();
  const good1 = workItem(patchId, 'markActive', 'draft', 'active', 2);
  const good2 = workItem(patchId, 'startDeployment', 'active', 'in_deployment', 3);
  const garbage = new Uint8Array([0x00, 0xff, 0x7b, 0x00, 0x22, 0x0a]);
  const hugeVersion = { ...workItem(patchId, 'close', 'deployed', 'closed', 4) };
  hugeVersion.transition = { ...hugeVersion.transition, patchVersion: 2 ** 40 };
  const hugeVersionBytes = encoder.encode(
    `{ "workId" : ${JSON.stringify(hugeVersion.workId)}, ${JSON.stringify(hugeVersion).slice(1)}`,
  );
  // Schema-valid, but a CHECK constraint in this test's database refuses it the same way every time.
  const tooLong = { ...step(good1, 'gitlab', 'triggerPipeline'), message: `rejected-by-check ${'x'.repeat(300)}` };
  // Schema-valid; a trigger in this test's database fails it with a non-data error (like a bug would).
  const exploding = { ...step(good1, 'jira', 'moveIssue'), message: 'explode' };
  const seqs: Record<string, number> = {};

  it('is parked (at once when it can never apply, after the retries otherwise) and never blocks the ones behind it', async () => {
    await sql.query(`create function test_explode() returns trigger language plpgsql as $$
      begin if new.message = 'explode' then raise exception 'test fault: cannot apply this step'; end if; return new; end $$`);
    await sql.query(`create trigger test_explode before insert on action_log_step for each row execute function test_explode()`);
    await sql.query(`alter table action_log_step add constraint test_refuse_step check (message not like 'rejected-by-check%')`);

    seqs.garbage = await publishRaw(actionLog.bus.topology.work('markActive'), garbage);
    seqs.hugeVersion = await publishRaw(actionLog.bus.topology.work('close'), hugeVersionBytes);
    seqs.tooLong = (await publishEvent(tooLong)).seq;
    seqs.exploding = (await publishEvent(exploding)).seq;
    const goodSteps = [step(good1, 'gitlab', 'triggerPipeline'), step(good2, 'successor', 'createSuccessor')];
    const publishedAt = Date.now();
    await publishWork(good1);
    await publishWork(good2);
    for (const s of goodSteps) await publishEvent(s);

    // The good messages arrive at once, whatever is still being retried ahead of them.
    const history = await waitFor(
      async () => {
        const h = await actionLog.bus.call(actionLogEndpoints.history, { patchId });
        const steps = h.entries.flatMap((e) => e.executions.flatMap((x) => x.steps));
        return h.entries.length === 2 && steps.length === 2 ? h : undefined;
      },
      { what: 'the good messages to be projected', timeoutMs: 5000 },
    );
    expect(Date.now() - publishedAt).toBeLessThan(3000);
    expect(history.entries.map((e) => e.workId)).toEqual([good1.workId, good2.workId]);

    await waitFor(async () => (await parkedRows()).length === 4 && (await consumersIdle()), {
      what: 'four parked messages and idle consumers',
    });
    const defs = actionLog.bus.topology.actionLogConsumers();
    const rows = await parkedRows();
    const bySeq = (stream: string, seq: number | undefined) =>
      rows.find((r) => r.stream === stream && Number(r.stream_seq) === seq);

    const garbageRow = bySeq(defs.work.stream, seqs.garbage);
    expect(garbageRow).toMatchObject({
      reason: 'invalid',
      consumer: defs.work.durableName,
      subject: actionLog.bus.topology.work('markActive'),
    });
    expect(garbageRow?.error).toMatch(/not valid JSON/);
    expect(Buffer.compare(garbageRow?.data ?? Buffer.alloc(0), Buffer.from(garbage))).toBe(0);

    const hugeRow = bySeq(defs.work.stream, seqs.hugeVersion);
    expect(hugeRow).toMatchObject({ reason: 'invalid', deliveries: 1 });
    expect(hugeRow?.error).toMatch(/transition\.patchVersion/);
    // Exactly the bytes the stream holds (spacing included), not a re-encoding.
    expect(hugeRow?.data.toString()).toBe(Buffer.from(hugeVersionBytes).toString());

    const tooLongRow = bySeq(defs.events.stream, seqs.tooLong);
    expect(tooLongRow).toMatchObject({ reason: 'rejected', deliveries: 1, consumer: defs.events.durableName });
    expect(tooLongRow?.error).toMatch(
      /^SQLSTATE 23514: new row for relation "action_log_step" violates check constraint "test_refuse_step"$/,
    );
    expect(tooLongRow?.error).not.toMatch(/insert into/);

    const explodingRow = bySeq(defs.events.stream, seqs.exploding);
    expect(explodingRow).toMatchObject({ reason: 'exhausted', deliveries: policy.maxDeliveries });
    expect(explodingRow?.error).toMatch(/^SQLSTATE P0001: test fault/);

    // One warn line per parked message, naming where it is, never what it carries.
    const parkedLines = logLines.filter((l) => l.msg === 'message parked (npm run action-log:parked)');
    expect(parkedLines.map((l) => Number(l.streamSeq)).sort()).toEqual(
      [seqs.garbage, seqs.hugeVersion, seqs.tooLong, seqs.exploding].sort(),
    );
    const logText = JSON.stringify(logLines);
    expect(logText).not.toContain('xxxxxxxxxx');
    expect(logText).not.toContain('explode');
  });

  it('is not acknowledged while it can be neither applied nor parked', async () => {
    // Postgres refuses every park (as if down for those statements) …
    await sql.query(`create function test_refuse_park() returns trigger language plpgsql as $$
      begin raise exception 'test fault: parking refused' using errcode = '08006'; end $$`);
    await sql.query(
      `create trigger test_refuse_park before insert on parked_message for each row execute function test_refuse_park()`,
    );
    const invalid = {
      ...step(workItem(randomUUID(), 'markActive', 'draft', 'active', 2), 'slack', 'notify'),
      eventId: 'not-a-uuid',
    };
    const seq = (await actionLog.bus.publish(actionLog.bus.topology.step('slack'), invalid)).seq;
    const defs = actionLog.bus.topology.actionLogConsumers();
    await waitFor(
      async () => {
        const info = await actionLog.bus.admin.consumerInfo(defs.events.stream, defs.events.durableName);
        return info.redelivered > 0 && info.ackPending === 1;
      },
      { what: 'the unparkable message to be redelivered' },
    );
    expect((await parkedRows()).some((r) => Number(r.stream_seq) === seq)).toBe(false);

    // … and once it takes them again, the message is parked and acknowledged.
    await sql.query('drop trigger test_refuse_park on parked_message');
    await waitFor(async () => (await parkedRows()).some((r) => Number(r.stream_seq) === seq) && (await consumersIdle()), {
      what: 'the message to be parked once Postgres takes it',
    });
    const row = (await parkedRows()).find((r) => Number(r.stream_seq) === seq);
    expect(row).toMatchObject({ reason: 'invalid' });
    expect(row?.deliveries).toBeGreaterThan(1);
  });

  it('is retried by a rebuild: one that applies now leaves the parked list, the others are parked again', async () => {
    await sql.query('drop trigger test_explode on action_log_step');
    const before = await parkedRows();
    const report = await rebuildActionLog({
      orm: actionLog.service.orm,
      bus: actionLog.bus,
      logger: createLogger('rebuild-test', testLogLevel),
      poisonPolicy: policy,
    });
    expect(report).toEqual({
      work: 4,
      events: 5,
      invalid: 3,
      parked: 4,
      released: 1,
      swap: { tail: 0, caughtUp: 0, writersPausedMs: expect.any(Number), readersPausedMs: expect.any(Number) },
    });
    const after = await parkedRows();
    expect(after.map((r) => r.stream_seq)).toEqual(
      before
        .filter(
          (r) =>
            Number(r.stream_seq) !== seqs.exploding || r.stream !== actionLog.bus.topology.actionLogConsumers().events.stream,
        )
        .map((r) => r.stream_seq),
    );
    const history = await actionLog.bus.call(actionLogEndpoints.history, { patchId });
    const jira = history.entries[0]?.executions.find((e) => e.workflow === 'jira');
    expect(jira?.steps.map((s) => s.message)).toEqual(['explode']);
  });

  it('is listed for operators by npm run action-log:parked', async () => {
    const run = (args: string[]) =>
      execFileAsync(process.execPath, ['--conditions=development', '--import', 'tsx', 'scripts/action-log-parked.ts', ...args], {
        cwd: repoRoot,
        env: { ...process.env, ACTION_LOG_DATABASE_URL: actionLog.db.url, LOG_LEVEL: 'warn' },
      });
    const text = await run([]);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^PARKED AT \(UTC\)\s+STREAM\/SEQ\s+SUBJECT\s+DELIVERIES\s+REASON\s+ERROR$/);
    expect(lines.at(-1)).toBe('4 parked messages');
    expect(text.stdout).toMatch(/rejected {2}SQLSTATE 23514/);

    const json = JSON.parse((await run(['--json', '--limit', '2'])).stdout) as {
      total: number;
      messages: { stream: string; streamSeq: number; reason: string; dataBase64: string }[];
    };
    expect(json.total).toBe(4);
    expect(json.messages).toHaveLength(2);
    const garbageEntry = json.messages.find((m) => m.streamSeq === seqs.garbage);
    expect(garbageEntry && Buffer.from(garbageEntry.dataBase64, 'base64').equals(Buffer.from(garbage))).toBe(true);

    expect((await run(['--help'])).stdout).toMatch(/^Usage: npm run action-log:parked/);
  });
});
