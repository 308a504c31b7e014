import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { busPrincipals, type BusPrincipal } from '@patchflow/contracts';
import { readEnvFile } from '@patchflow/config';
import { repoRoot } from './processes.js';

/**
 * Runs the real `npm run nats:config` script into `dir` (with `args` such as `--listen`,
 * `--namespace`, `--cluster-nodes`) and returns each principal's generated credentials, exactly
 * as `npm start -- --nats-credentials DIR` would hand them to its service.
 */
export function generateNatsConfig(dir: string, args: string[]): Record<BusPrincipal, Record<string, string>> {
  const run = spawnSync(
    process.execPath,
    ['--conditions=development', '--import', 'tsx', 'scripts/nats-config.ts', '--out', dir, ...args],
    { cwd: repoRoot, encoding: 'utf8' },
  );
  if (run.status !== 0) throw new Error(`nats:config exited ${String(run.status)}: ${run.stderr}`);
  return Object.fromEntries(busPrincipals.map((p) => [p, readEnvFile(join(dir, `${p}.env`))])) as Record<
    BusPrincipal,
    Record<string, string>
  >;
}
