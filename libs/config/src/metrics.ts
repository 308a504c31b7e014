import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Prometheus metrics of this process, served as text at `GET /metrics` on the health port (see
 * health-server.ts). One registry per process: a module defines its metrics once, at load, with
 * the helpers below and updates them in place (a counter add or a histogram observe per message,
 * nothing that waits). The README's Operations → Metrics lists every family.
 *
 * Names: ours start with `patchflow_`; the process metrics of prom-client keep their standard
 * names (`process_resident_memory_bytes`, `nodejs_eventloop_lag_seconds`, …) so the usual
 * dashboards and alerts apply. Every series carries the `service` label, set once the service
 * names itself (`startProcessMetrics`).
 */
export const metricsRegistry = new Registry();

export const METRIC_PREFIX = 'patchflow_';

/** Seconds buckets from 1 ms to 30 s: a transition takes milliseconds, a workflow's handler may take seconds. */
export const durationBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

interface MetricSpec<L extends string> {
  /** Without the prefix, e.g. `transitions_total`. */
  name: string;
  help: string;
  labelNames?: readonly L[];
}

/**
 * A metric already in the registry under this name is returned as it is, so a module loaded
 * twice in one process (tests start services in-process) does not throw on the second load.
 */
function defined<M>(name: string, kind: typeof Counter | typeof Histogram | typeof Gauge): M | undefined {
  const existing = metricsRegistry.getSingleMetric(METRIC_PREFIX + name);
  if (existing === undefined) return undefined;
  if (!(existing instanceof kind)) throw new Error(`metric ${METRIC_PREFIX}${name} is already defined as another type`);
  return existing as M;
}

export function counter<L extends string = never>(spec: MetricSpec<L>): Counter<L> {
  return (
    defined<Counter<L>>(spec.name, Counter) ??
    new Counter<L>({
      name: METRIC_PREFIX + spec.name,
      help: spec.help,
      labelNames: [...(spec.labelNames ?? [])],
      registers: [metricsRegistry],
    })
  );
}

export function histogram<L extends string = never>(spec: MetricSpec<L> & { buckets: number[] }): Histogram<L> {
  return (
    defined<Histogram<L>>(spec.name, Histogram) ??
    new Histogram<L>({
      name: METRIC_PREFIX + spec.name,
      help: spec.help,
      labelNames: [...(spec.labelNames ?? [])],
      buckets: spec.buckets,
      registers: [metricsRegistry],
    })
  );
}

/** The scrape-time reads of the gauges that have one, by name. */
const collectors = new Map<string, (g: Gauge<string>) => void | Promise<void>>();

/**
 * A gauge; with `collect`, its value is read when Prometheus scrapes (e.g. a count from the
 * database), not kept up to date on every change. A later `collect` for the same name replaces
 * the earlier one (the last service started in a process is the one measured).
 */
export function gauge<L extends string = never>(
  spec: MetricSpec<L> & { collect?: (g: Gauge<L>) => void | Promise<void> },
): Gauge<L> {
  const existing = defined<Gauge<L>>(spec.name, Gauge);
  const collect = spec.collect;
  const g =
    existing ??
    new Gauge<L>({
      name: METRIC_PREFIX + spec.name,
      help: spec.help,
      labelNames: [...(spec.labelNames ?? [])],
      registers: [metricsRegistry],
      // Reads `collectors` so a replaced collect takes effect on the existing gauge.
      collect(this: Gauge<L>) {
        return collectors.get(spec.name)?.(this);
      },
    });
  if (collect) collectors.set(spec.name, collect as (g: Gauge<string>) => void | Promise<void>);
  return g;
}

/**
 * Runs `read` for a scrape, giving up after `timeoutMs` (the gauge then keeps its last value and
 * the scrape answers anyway). A failing read is reported through `onError` and leaves it too.
 */
export async function readWithin<T>(
  timeoutMs: number,
  read: () => Promise<T>,
  onError: (err: unknown) => void,
): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      read(),
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), timeoutMs);
      }),
    ]);
  } catch (err) {
    onError(err);
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

let processMetricsOf: string | undefined;

/**
 * Names this process (`service` label on every series) and starts the process metrics (CPU, RSS,
 * heap, event-loop lag, GC, handles). Once per process; a second call with another name is a bug.
 */
export function startProcessMetrics(service: string): void {
  if (processMetricsOf !== undefined) {
    if (processMetricsOf !== service) throw new Error(`this process already reports metrics as ${processMetricsOf}`);
    return;
  }
  processMetricsOf = service;
  metricsRegistry.setDefaultLabels({ service });
  // The event-loop lag is sampled every 100 ms, not prom-client's 10: a 10 ms timer wakes an idle
  // service 100 times a second, ~4.5 ms of CPU per second per process (measured), for a lag
  // histogram that 10 samples a second describe as well.
  collectDefaultMetrics({ register: metricsRegistry, eventLoopMonitoringPrecision: 100 });
}

/** The registry as Prometheus text (what `GET /metrics` answers). */
export async function metricsText(): Promise<{ contentType: string; body: string }> {
  return { contentType: metricsRegistry.contentType, body: await metricsRegistry.metrics() };
}
