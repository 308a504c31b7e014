import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, metricValue, parseMetrics } from '@patchflow/testing';
import { HealthServer } from './health-server.js';
import { counter, gauge, histogram, readWithin, startProcessMetrics } from './metrics.js';

// The process registry is shared by this file's tests (as by a service's modules): each test
// uses metric names of its own.
let health: HealthServer;
let base: string;

beforeAll(async () => {
  const port = await freePort();
  health = await HealthServer.start({ HEALTH_PORT: String(port) }, 'metrics-unit');
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await health?.close();
});

async function scrape(): Promise<{ status: number; type: string | null; text: string }> {
  const res = await fetch(`${base}/metrics`);
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

/** The value of `name` with these labels (and this process's service label) in a scrape. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  return metricValue(parseMetrics(text), name, { ...labels, service: 'metrics-unit' });
}

describe('GET /metrics on the health port', () => {
  it('serves our metrics with prefix, help and the service label, and the process metrics', async () => {
    const requests = counter({ name: 'unit_requests_total', help: 'Requests seen by the unit test', labelNames: ['kind'] });
    requests.labels('a').inc();
    requests.labels('a').inc();
    requests.labels('b').inc();
    const took = histogram({ name: 'unit_duration_seconds', help: 'How long', labelNames: ['kind'], buckets: [0.1, 1] });
    took.labels('a').observe(0.5);

    const { status, type, text } = await scrape();
    expect(status).toBe(200);
    expect(type).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(text).toContain('# HELP patchflow_unit_requests_total Requests seen by the unit test');
    expect(text).toContain('# TYPE patchflow_unit_requests_total counter');
    expect(sample(text, 'patchflow_unit_requests_total', { kind: 'a' })).toBe(2);
    expect(sample(text, 'patchflow_unit_requests_total', { kind: 'b' })).toBe(1);
    expect(sample(text, 'patchflow_unit_duration_seconds_bucket', { kind: 'a', le: '0.1' })).toBe(0);
    expect(sample(text, 'patchflow_unit_duration_seconds_bucket', { kind: 'a', le: '1' })).toBe(1);
    expect(sample(text, 'patchflow_unit_duration_seconds_count', { kind: 'a' })).toBe(1);
    expect(sample(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(sample(text, 'process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(sample(text, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
    // Every sample is this service's.
    expect(parseMetrics(text).filter((m) => m.labels.service !== 'metrics-unit')).toEqual([]);
  });

  it('the same definition twice is one metric; the same name as another type is refused', () => {
    const a = counter({ name: 'unit_twice_total', help: 'Defined twice' });
    expect(counter({ name: 'unit_twice_total', help: 'Defined twice' })).toBe(a);
    expect(() => gauge({ name: 'unit_twice_total', help: 'Now a gauge' })).toThrow(
      'metric patchflow_unit_twice_total is already defined as another type',
    );
  });

  it('a gauge read at scrape time: a failing read is a 500 naming it, a new read replaces it', async () => {
    let answer: () => Promise<number> = async () => 7;
    gauge({
      name: 'unit_backlog_rows',
      help: 'Read at scrape time',
      collect: async (g) => g.set(await answer()),
    });
    expect(sample((await scrape()).text, 'patchflow_unit_backlog_rows')).toBe(7);

    answer = async () => {
      throw new Error('backlog unreadable');
    };
    const failed = await scrape();
    expect(failed.status).toBe(500);
    expect(failed.text).toBe('metrics could not be collected: backlog unreadable\n');

    gauge({ name: 'unit_backlog_rows', help: 'Read at scrape time', collect: (g) => g.set(3) });
    expect(sample((await scrape()).text, 'patchflow_unit_backlog_rows')).toBe(3);
  });

  it('readWithin: a read that takes too long is given up (undefined), a failing one is reported and undefined', async () => {
    expect(
      await readWithin(
        1000,
        async () => 5,
        () => undefined,
      ),
    ).toBe(5);
    expect(
      await readWithin(
        20,
        () => new Promise<number>(() => undefined),
        () => undefined,
      ),
    ).toBeUndefined();
    const errors: unknown[] = [];
    const failing = async (): Promise<number> => {
      throw new Error('no database');
    };
    expect(await readWithin(1000, failing, (err) => errors.push(err))).toBeUndefined();
    expect(errors).toEqual([new Error('no database')]);
  });

  it('other methods are 405 and unknown paths 404, naming the routes; HEAD answers without a body', async () => {
    const post = await fetch(`${base}/metrics`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(await post.json()).toEqual({ error: 'use GET' });
    const unknown = await fetch(`${base}/metric`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: 'GET /healthz, /readyz or /metrics' });
    const head = await fetch(`${base}/metrics`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('a process reports as one service: naming it again differently is refused', () => {
    expect(() => startProcessMetrics('metrics-unit')).not.toThrow();
    expect(() => startProcessMetrics('another')).toThrow('this process already reports metrics as metrics-unit');
  });
});
