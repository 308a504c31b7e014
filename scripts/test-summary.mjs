#!/usr/bin/env node
// Prints the closing line CI reads, `N passed, M failed`, from vitest's JSON report.
import { existsSync, readFileSync } from 'node:fs';

const file = process.argv[2] ?? 'reports/vitest.json';
if (!existsSync(file)) {
  console.log(`no test report at ${file}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const report = JSON.parse(readFileSync(file, 'utf8'));
const passed = report.numPassedTests ?? 0;
const failed = (report.numFailedTests ?? 0) + (report.numRuntimeErrorTests ?? 0);
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
// A file that failed outside its tests (it did not load, or a beforeAll threw and its tests were
// skipped) counts as one failure, so it cannot hide among the skipped.
const brokenFiles = (report.testResults ?? []).filter(
  (r) => r.status === 'failed' && !(r.assertionResults ?? []).some((a) => a.status === 'failed'),
);
for (const r of brokenFiles)
  console.log(`failed outside its tests: ${r.name}${r.message ? ` — ${String(r.message).split('\n')[0]}` : ''}`);
if (skipped) console.log(`${skipped} skipped`);
// The closing line is exactly what CI reads.
console.log(`${passed} passed, ${failed + brokenFiles.length} failed`);
process.exit(failed + brokenFiles.length > 0 || passed === 0 ? 1 : 0);
