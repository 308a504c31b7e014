import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { patchEndpoints } from '@patchflow/contracts';
import { buildWorkItem, connectTestBus, deleteNamespaceStreams, uniqueNamespace } from '@patchflow/testing';
import { BusAdminError, ensureConsumer, type Bus } from '../src/index.js';

// bus.admin against the real NATS server, in a namespace of its own: the views of streams,
// consumers and stored messages, raw bytes in and out, ordered range reads, and one-line errors
// for a stream or consumer that is not there.

let bus: Bus;
let work: string;
let events: string;
const seqs: number[] = [];
const items = Array.from({ length: 6 }, (_, i) => buildWorkItem(i % 2 === 0 ? 'markActive' : 'close'));

beforeAll(async () => {
  bus = await connectTestBus(uniqueNamespace('busadmin'));
  work = bus.topology.streams.work.name;
  events = bus.topology.streams.workflowEvents.name;
  for (const w of items) seqs.push((await bus.publish(bus.topology.work(w.transition.action), w, { msgId: w.workId })).seq);
});

afterAll(async () => {
  await deleteNamespaceStreams(bus);
  await bus.close();
});

const notFound = (message: RegExp) =>
  expect.objectContaining({ name: 'BusAdminError', kind: 'not_found', message: expect.stringMatching(message) });

describe('bus.admin', () => {
  it('is the only way to the connection: the nats.js handles are not properties of a Bus', () => {
    for (const handle of ['nc', 'jsm', 'js']) expect(handle in bus).toBe(false);
  });

  it('streamInfo: counts, sequences and configuration of one stream', async () => {
    expect(seqs).toEqual([1, 2, 3, 4, 5, 6]);
    const info = await bus.admin.streamInfo(work);
    expect(info).toMatchObject({
      name: work,
      subjects: bus.topology.streams.work.subjects,
      messages: 6,
      firstSeq: 1,
      lastSeq: 6,
      replicas: 1,
    });
    expect(info.bytes).toBeGreaterThan(0);
    expect(await bus.admin.streamInfo(events)).toMatchObject({ messages: 0, lastSeq: 0 });
  });

  it('streams: every stream of the server, or those storing one subject', async () => {
    const names = (await bus.admin.streams()).map((s) => s.name);
    for (const def of Object.values(bus.topology.streams)) expect(names).toContain(def.name);
    expect((await bus.admin.streams(bus.topology.work('close'))).map((s) => s.name)).toEqual([work]);
  });

  it('message: the stored subject, message id, time and bytes of one sequence; null where none is stored', async () => {
    const m = await bus.admin.message(work, 2);
    expect(m).toMatchObject({ seq: 2, subject: bus.topology.work('close'), msgId: items[1]!.workId });
    expect(m!.json()).toEqual(JSON.parse(JSON.stringify(items[1])));
    expect(m!.time).toBeInstanceOf(Date);
    expect(await bus.admin.message(work, 999)).toBeNull();
    await expect(bus.admin.message(work, 0)).rejects.toThrow('message: sequence 0 is not a positive integer');
  });

  it('a stream or consumer that is not there, or a name NATS cannot take, is one line naming it', async () => {
    await expect(bus.admin.streamInfo('no_such_stream_x')).rejects.toEqual(notFound(/^stream "no_such_stream_x" not found/));
    await expect(bus.admin.message('no_such_stream_x', 1)).rejects.toEqual(notFound(/^stream "no_such_stream_x" not found/));
    await expect(bus.admin.consumers('no_such_stream_x')).rejects.toEqual(notFound(/^stream "no_such_stream_x" not found/));
    await expect(bus.admin.consumerInfo(work, 'nobody')).rejects.toEqual(
      notFound(new RegExp(`^consumer "nobody" not found on stream "${work}"$`)),
    );
    const bad = await bus.admin.streamInfo('work.stream').catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(BusAdminError);
    expect(bad).toMatchObject({
      kind: 'invalid_name',
      message: "not a valid name: stream name ('work.stream') cannot contain '.'",
    });
    await expect(bus.admin.consumerInfo(work, 'a b')).rejects.toMatchObject({ kind: 'invalid_name', message: /'a b'/ });
    await expect(bus.admin.streamInfo('')).rejects.toMatchObject({ kind: 'invalid_name', message: /name required/ });
    // Nothing changed.
    expect(await bus.admin.streamInfo(work)).toMatchObject({ messages: 6, lastSeq: 6 });
  });

  it('publishRaw: bytes stored exactly as sent (no contract); a repeated message id is a duplicate; a subject no stream stores is named', async () => {
    const garbage = new TextEncoder().encode('{not json');
    const first = await bus.admin.publishRaw(bus.topology.work('cancel'), garbage, { msgId: 'raw-1' });
    expect(first).toEqual({ seq: 7, duplicate: false });
    expect(await bus.admin.publishRaw(bus.topology.work('cancel'), garbage, { msgId: 'raw-1' })).toEqual({
      seq: 7,
      duplicate: true,
    });
    const stored = await bus.admin.message(work, 7);
    expect(stored?.data).toEqual(garbage);
    expect(stored?.msgId).toBe('raw-1');
    expect(() => stored!.json()).toThrow(SyntaxError);
    const nowhere = `${bus.topology.namespace}.nowhere`;
    await expect(bus.admin.publishRaw(nowhere, garbage)).rejects.toEqual(notFound(new RegExp(`^no stream stores "${nowhere}"`)));
  });

  it('consumerInfo and consumers: a durable consumer’s progress', async () => {
    const def = bus.topology.workflowConsumer('jira');
    await ensureConsumer(bus, def);
    const info = await bus.admin.consumerInfo(def.stream, def.durableName);
    expect(info).toMatchObject({
      stream: work,
      name: def.durableName,
      durableName: def.durableName,
      pending: 7,
      ackPending: 0,
      redelivered: 0,
      delivered: 0,
      lastActive: null,
      replicas: 0,
    });
    expect((await bus.admin.consumers(work)).filter((c) => c.durableName).map((c) => c.name)).toEqual([def.durableName]);
  });

  describe('readRange', () => {
    const read = async (range: Parameters<Bus['admin']['readRange']>[1]) => {
      const out: number[] = [];
      for await (const m of bus.admin.readRange(work, range)) out.push(m.seq);
      return out;
    };

    it('reads in order from the first to the last message stored when it began, with bounds and a subject filter', async () => {
      expect(await read({})).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(await read({ fromSeq: 3, toSeq: 5 })).toEqual([3, 4, 5]);
      expect(await read({ toSeq: 100 })).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(await read({ subject: bus.topology.work('close') })).toEqual([2, 4, 6]);
      expect(await read({ fromSeq: 3, subject: bus.topology.work('markActive') })).toEqual([3, 5]);
      expect(await read({ fromSeq: 8 })).toEqual([]);
      const first = [];
      for await (const m of bus.admin.readRange(work, { toSeq: 1 })) first.push(m);
      expect(first).toHaveLength(1);
      expect(first[0]).toMatchObject({ seq: 1, subject: bus.topology.work('markActive'), msgId: items[0]!.workId });
      expect(first[0]!.json()).toEqual(JSON.parse(JSON.stringify(items[0])));
    });

    it('by time: since the time a message was stored, until another', async () => {
      const third = (await bus.admin.message(work, 3))!.time;
      const fifth = (await bus.admin.message(work, 5))!.time;
      // Stored times are in nanoseconds, a Date in milliseconds: messages of the same millisecond come along.
      const fromThird = await read({ since: third });
      expect(fromThird.slice(-5)).toEqual([3, 4, 5, 6, 7]);
      expect(fromThird).toEqual([...fromThird].sort((a, b) => a - b));
      const untilFifth = await read({ until: fifth });
      expect(untilFifth.slice(0, 5)).toEqual([1, 2, 3, 4, 5]);
      expect(untilFifth.length).toBeLessThanOrEqual(7);
    });

    it('an empty stream yields nothing; nothing durable is left behind', async () => {
      const read = [];
      for await (const m of bus.admin.readRange(events)) read.push(m);
      expect(read).toEqual([]);
      expect((await bus.admin.consumers(work)).filter((c) => c.durableName).map((c) => c.name)).toEqual([
        bus.topology.workflowConsumer('jira').durableName,
      ]);
    });

    it('refuses a bad range or stream, naming it', async () => {
      await expect(read({ fromSeq: 0 })).rejects.toThrow('readRange: fromSeq 0 is not a positive integer');
      await expect(read({ toSeq: 1.5 })).rejects.toThrow('readRange: toSeq 1.5 is not a positive integer');
      await expect(read({ fromSeq: 1, since: new Date() })).rejects.toThrow('readRange: give fromSeq or since, not both');
      const missing = bus.admin.readRange('no_such_stream_x');
      await expect(missing.next()).rejects.toEqual(notFound(/^stream "no_such_stream_x" not found/));
    });
  });

  it('subscribeRaw and flush: a responder that never answers turns "nobody listens" into a timeout, until stopped', async () => {
    const request = () => bus.request(patchEndpoints.get, { id: randomUUID() }, { timeoutMs: 300 });
    expect(await request()).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    const seen: { subject: string; reply: string | undefined }[] = [];
    const silent = bus.admin.subscribeRaw(bus.topology.subjects.patchGet, (m) =>
      seen.push({ subject: m.subject, reply: m.reply }),
    );
    await bus.admin.flush();
    expect(await request()).toMatchObject({ ok: false, error: { code: 'timeout' } });
    expect(seen).toEqual([{ subject: bus.topology.subjects.patchGet, reply: expect.any(String) }]);
    silent.stop();
    await bus.admin.flush();
    expect(await request()).toMatchObject({ ok: false, error: { code: 'unavailable' } });
  });

  it('hasSubscribers: false with nobody, true once a listen is registered, false again after stop', async () => {
    const subject = bus.topology.actionLogUpdated(randomUUID());
    expect(await bus.admin.hasSubscribers(subject)).toBe(false);
    const got: unknown[] = [];
    const listener = bus.listen(subject, (v) => void got.push(v));
    await listener.registered();
    expect(await bus.admin.hasSubscribers(subject)).toBe(true);
    // What is published once registered() resolved reaches the handler (an empty request body is not JSON: dropped).
    bus.notify(subject, { n: 1 });
    await bus.admin.flush();
    await expect.poll(() => got).toEqual([{ n: 1 }]);
    listener.stop();
    await bus.admin.flush();
    expect(await bus.admin.hasSubscribers(subject)).toBe(false);
  });

  it('deleteStream: true when deleted, false when there was none', async () => {
    const dead = bus.topology.streams.deadLetters.name;
    expect(await bus.admin.deleteStream(dead)).toBe(true);
    await expect(bus.admin.streamInfo(dead)).rejects.toEqual(notFound(/not found/));
    expect(await bus.admin.deleteStream(dead)).toBe(false);
    await expect(bus.admin.deleteStream('a.b')).rejects.toMatchObject({ kind: 'invalid_name' });
  });
});
