import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { SERVICE_NODE_FLAGS } from './service-process.js';

describe('SERVICE_NODE_FLAGS', () => {
  it('are node flags this node accepts, and bound the heap as the comment says', () => {
    const r = spawnSync(
      process.execPath,
      [
        ...SERVICE_NODE_FLAGS,
        '-e',
        "console.log(JSON.stringify({ limit: require('node:v8').getHeapStatistics().heap_size_limit }))",
      ],
      { encoding: 'utf8' },
    );
    expect(r.status, r.stderr).toBe(0);
    const { limit } = JSON.parse(r.stdout) as { limit: number };
    const mb = limit / 1024 / 1024;
    // The old generation's 160 MB plus the young generation (three 8 MB semi-spaces' worth).
    expect(mb).toBeGreaterThanOrEqual(160);
    expect(mb).toBeLessThanOrEqual(200);
    // Without the flags this node's limit is far higher (its default from the machine's memory).
    const plain = spawnSync(process.execPath, ['-p', "require('node:v8').getHeapStatistics().heap_size_limit"], {
      encoding: 'utf8',
    });
    expect(Number(plain.stdout) / 1024 / 1024).toBeGreaterThan(1000);
  });
});
