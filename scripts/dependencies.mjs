// Installs the workspace's dependencies when they are missing or out of date, saying so. Plain
// JavaScript: it runs before anything is installed (npm start, npm test on a fresh machine).
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Runs `npm install --include=dev` when node_modules is missing or package-lock.json is newer
 * than the last install (node_modules/.package-lock.json). Never prunes: `--include=dev` keeps
 * tsx and the test tools even with NODE_ENV=production (which would otherwise omit them).
 * PATCHFLOW_NO_INSTALL=1 skips it (read-only checkouts, images built elsewhere).
 * Returns false when the install failed (npm has printed why).
 */
export function ensureDependencies(root, log = (line) => console.log(line)) {
  if (process.env.PATCHFLOW_NO_INSTALL === '1') return true;
  const marker = join(root, 'node_modules', '.package-lock.json');
  const lock = join(root, 'package-lock.json');
  let reason;
  if (!existsSync(marker)) reason = 'node_modules is missing';
  else if (existsSync(lock) && statSync(lock).mtimeMs > statSync(marker).mtimeMs)
    reason = 'package-lock.json is newer than node_modules';
  if (!reason) return true;
  log(`installing dependencies (${reason}): npm install --include=dev — about a minute the first time`);
  const started = Date.now();
  const r = spawnSync('npm', ['install', '--include=dev', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (r.status !== 0) {
    log(
      `npm install failed (${r.error ? r.error.message : `exit code ${r.status}`}); fix what it printed above and run the command again`,
    );
    return false;
  }
  log(`dependencies installed in ${Math.round((Date.now() - started) / 1000)} s`);
  return true;
}
