#!/usr/bin/env node
/**
 * `npm run audit:production`: what runs in production is checked twice.
 * 1. The production dependency tree (`npm ls --omit=dev`) holds no test tooling (testcontainers,
 *    vitest, tsx, playwright, the test fixtures): those never ship. Offline, always decisive.
 * 2. `npm audit --omit=dev`: fails on a high or critical advisory. When the advisory service
 *    cannot be reached (no network, a registry mirror without the audit endpoint), it says so in
 *    plain words and does not pretend the dependencies were audited.
 * Plain JavaScript on purpose: it must run right after `npm ci`, with nothing built.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

if (process.argv.includes('--help')) {
  console.log(`Usage: npm run audit:production

Checks that the production dependency tree holds no test tooling, then runs
npm audit --omit=dev and fails on high or critical advisories. Exit 0: clean (or the advisory
service was unreachable, which is printed); 1: a finding; 2: npm itself failed.`);
  process.exit(0);
}

const FORBIDDEN = ['testcontainers', 'dockerode', 'vitest', 'tsx', 'playwright-core', 'pg-boss', 'bullmq'];
const TEST_ONLY_WORKSPACES = ['@patchflow/testing'];

function npm(args) {
  return spawnSync('npm', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

// 1. No package that ships depends on the test fixtures (a workspace is always in the tree, so
// its presence says nothing: the dependency edges do).
const root = JSON.parse(readFileSync('package.json', 'utf8'));
const manifests = [['package.json', root]];
for (const pattern of root.workspaces ?? []) {
  const ls = spawnSync('sh', ['-c', `ls -d ${pattern}`], { encoding: 'utf8' });
  for (const dir of ls.stdout.split('\n').filter(Boolean)) {
    try {
      manifests.push([`${dir}/package.json`, JSON.parse(readFileSync(`${dir}/package.json`, 'utf8'))]);
    } catch {
      // not a package
    }
  }
}
const edges = manifests.flatMap(([file, m]) =>
  Object.keys(m.dependencies ?? {})
    .filter((d) => TEST_ONLY_WORKSPACES.includes(d) || FORBIDDEN.includes(d))
    .map((d) => `${file} → ${d}`),
);
if (edges.length > 0) {
  console.error(
    `audit:production: test tooling among the production dependencies: ${edges.join(', ')} (move it to devDependencies)`,
  );
  process.exit(1);
}

// 2. The production tree, transitively.
const ls = npm(['ls', '--omit=dev', '--all', '--parseable', '--long']);
if (ls.status !== 0 && !ls.stdout) {
  console.error(`audit:production: npm ls failed: ${ls.stderr.split('\n')[0]}`);
  process.exit(2);
}
const shipped = new Set(
  ls.stdout
    .split('\n')
    .map((line) => line.split(':')[1])
    .filter(Boolean)
    .map((nameAtVersion) => nameAtVersion.replace(/@[^@]*$/, '')),
);
const leaked = FORBIDDEN.filter((name) => shipped.has(name));
if (leaked.length > 0) {
  console.error(
    `audit:production: test tooling in the production dependencies: ${leaked.join(', ')} (move it to devDependencies)`,
  );
  process.exit(1);
}
console.log(`production dependency tree: ${shipped.size} packages, no test tooling`);

// 3. Known vulnerabilities.
const audit = npm(['audit', '--omit=dev', '--json']);
let report;
try {
  report = JSON.parse(audit.stdout);
} catch {
  report = undefined;
}
const unreachable =
  !report ||
  report.error !== undefined ||
  report.statusCode !== undefined ||
  /audit endpoint returned an error|ENOTFOUND|ECONNREFUSED|ETIMEDOUT|EAI_AGAIN|405 Method Not Allowed/.test(audit.stderr);
if (unreachable) {
  const why = (
    report?.error?.summary ||
    report?.message ||
    audit.stderr.split('\n').find((l) => l.includes('audit')) ||
    'no answer'
  ).trim();
  console.log(`npm audit: the advisory service could not be reached (${why}); the dependencies were NOT checked for advisories`);
  process.exit(0);
}
const counts = report.metadata?.vulnerabilities ?? {};
const serious = (counts.high ?? 0) + (counts.critical ?? 0);
console.log(
  `npm audit --omit=dev: ${counts.critical ?? 0} critical, ${counts.high ?? 0} high, ${counts.moderate ?? 0} moderate, ${counts.low ?? 0} low`,
);
if (serious > 0) {
  for (const [name, v] of Object.entries(report.vulnerabilities ?? {})) {
    if (v.severity === 'high' || v.severity === 'critical') console.error(`  ${v.severity}: ${name} (${v.range ?? ''})`);
  }
  process.exit(1);
}
