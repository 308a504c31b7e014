/** The two loads: a closed loop of callers that wait for settlement, and a fixed-rate open loop. */
import type { Settled } from './settle.js';
import type { BenchSystem } from './system.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Takes patches from the front of `patches` (each is used once). */
function take(patches: string[]): string {
  const p = patches.shift();
  if (!p) throw new Error('out of prepared patches');
  return p;
}

/** `callers` loops, each: startDeployment, wait until it settled, next — `count` in all. */
export async function closedLoop(
  system: BenchSystem,
  patches: string[],
  count: number,
  callers: number,
): Promise<{ settled: Settled[]; seconds: number }> {
  const settled: Settled[] = [];
  let issued = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (issued < count) {
        issued++;
        const c = await system.startDeployment(take(patches));
        settled.push(await system.settled(c));
      }
    }),
  );
  return { settled, seconds: (performance.now() - t0) / 1000 };
}

/** startDeployment at a fixed `rate` per second for `seconds`, never waiting for an earlier one. */
export async function openLoop(system: BenchSystem, patches: string[], rate: number, seconds: number): Promise<Settled[]> {
  const n = Math.round(rate * seconds);
  const t0 = performance.now();
  const all: Promise<Settled>[] = [];
  for (let i = 0; i < n; i++) {
    const wait = t0 + (i * 1000) / rate - performance.now();
    if (wait > 0) await sleep(wait);
    const patch = take(patches);
    const settled = system.startDeployment(patch).then((c) => system.settled(c));
    settled.catch(() => undefined); // handled by Promise.all below; not an unhandled rejection meanwhile
    all.push(settled);
  }
  return Promise.all(all);
}
