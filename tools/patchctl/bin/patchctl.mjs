#!/usr/bin/env node
// `npx patchctl …`: runs the TypeScript source through tsx (development checkout, as every
// service runs), or the built dist/ when tsx is not installed (a production tree without dev
// dependencies, after `npm run build`). A child process, because the workspace libraries resolve
// to their source only under `--conditions=development`, which must be set when node starts.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const source = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const built = new URL('../dist/main.js', import.meta.url);

let tsx;
try {
  tsx = import.meta.resolve('tsx');
} catch {
  tsx = undefined;
}

if (tsx && existsSync(source)) {
  const child = spawn(process.execPath, ['--conditions=development', '--import', tsx, source, ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  // Ctrl-C reaches the child through the terminal's process group; a signal sent to this process
  // alone (kill, a supervisor) is passed on.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 2 : 0)));
} else if (existsSync(fileURLToPath(built))) {
  await import(built.href);
} else {
  console.error('patchctl: neither tsx (dev dependencies) nor a build (npm run build) is installed; run `npm ci` first');
  process.exit(2);
}
