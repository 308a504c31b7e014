#!/usr/bin/env node
// `npm test`: makes sure what the tests need is here — the npm dependencies, and Debian's
// Chromium for the UI test (installed with apt-get when missing, as on a fresh machine) — then
// runs vitest over every workspace (its JSON report goes to reports/vitest.json, which CI counts).
// Arguments go to vitest: `npm test -- services/gateway`.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDependencies } from './dependencies.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);
const say = (line) => console.log(`npm test: ${line}`);

if (!ensureDependencies(root, say)) process.exit(1);
if (!ensureChromium()) process.exit(1);

const vitest = spawn(process.execPath, [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...process.argv.slice(2)], {
  stdio: 'inherit',
});
// A signal sent to `npm test` (this process: the script execs node) stops vitest too.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => vitest.kill(signal));
vitest.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));

/** The UI test drives CHROMIUM_PATH (default /usr/bin/chromium, Debian's package). */
function ensureChromium() {
  const path = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  if (existsSync(path)) return true;
  if (process.env.CHROMIUM_PATH) {
    say(`CHROMIUM_PATH names ${path}, which does not exist; point it at a Chromium binary or unset it`);
    return false;
  }
  const canApt = process.getuid?.() === 0 && spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;
  if (!canApt) {
    say(
      'Chromium is missing (the UI test drives it): install it with `sudo apt-get install -y chromium` or set CHROMIUM_PATH, then run npm test again',
    );
    return false;
  }
  // Package mirrors fail now and then: three attempts, as CI did.
  for (let attempt = 1; attempt <= 3; attempt += 1) {
    say(`Chromium is missing (the UI test drives it): apt-get update && apt-get install -y chromium (attempt ${attempt} of 3)`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const ok =
      spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env }).status === 0 &&
      spawnSync('apt-get', ['install', '-y', '-qq', 'chromium'], { stdio: ['ignore', 'ignore', 'inherit'], env }).status === 0;
    if (ok && existsSync(path)) {
      say('Chromium installed');
      return true;
    }
    if (attempt < 3) spawnSync('sleep', ['10']);
  }
  say('could not install Chromium with apt-get (see the errors above); install it by hand, then run npm test again');
  return false;
}
