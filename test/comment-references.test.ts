/**
 * Every file a code comment points to exists inside the repository: a reader following
 * `see services/gateway/src/routes/` or `(docs/FIELD-NOTES.md)` must land somewhere. Checked:
 * repository-rooted paths (contracts/, libs/, services/, scripts/, docs/, deploy/, test/),
 * paths relative to the file (`./x`, `../x`) and document names such as `DESIGN.md`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '@patchflow/testing';

const SOURCE = /\.(ts|mjs|js)$/;

/** The repository's own source files (what git tracks: no build output, no local scratch). */
function files(): string[] {
  const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: repoRoot, encoding: 'utf8' }).split('\0');
  return tracked
    .filter((f) => SOURCE.test(f))
    .map((f) => join(repoRoot, f))
    .filter((f) => existsSync(f));
}

/** The comment text of a source file. */
function commentsOf(text: string): string {
  return [...text.matchAll(/\/\*[\s\S]*?\*\/|(?<![:'"`])\/\/[^\n]*/g)].map((m) => m[0]).join('\n');
}

/** Path-like references: `dir/file.ext`, `dir/dir/`, or a bare document name like `DESIGN.md`. */
const REFERENCE = /(?<![\w@$./-])((?:\.{1,2}\/)?(?:[\w.-]+\/)+[\w.-]*|[A-Z][A-Z-]+\.md)(?![\w/])/g;
const ROOTS = ['contracts', 'libs', 'services', 'scripts', 'deploy', 'docs', 'test'];

function resolves(ref: string, file: string): boolean {
  const clean = ref.replace(/[.,:;)]+$/, '');
  const candidates = [join(dirname(file), clean), join(repoRoot, clean), join(repoRoot, 'docs', clean)];
  // Package-relative (`src/env.ts` inside services/x/…).
  const pkg = relative(repoRoot, file).split('/').slice(0, 2).join('/');
  candidates.push(join(repoRoot, pkg, clean));
  return candidates.some((c) => existsSync(c));
}

describe('references in comments and docs', () => {
  it('every file or folder a comment names exists in the repository', () => {
    const broken: string[] = [];
    let checked = 0;
    for (const file of files()) {
      if (file.endsWith('comment-references.test.ts')) continue;
      const text = commentsOf(readFileSync(file, 'utf8'));
      for (const m of text.matchAll(REFERENCE)) {
        const ref = m[1]!;
        const first = ref.replace(/^\.{1,2}\//, '').split('/')[0]!;
        // Only references into this repository's own tree (not URLs, subjects or npm paths).
        const local = ref.startsWith('./') || ref.startsWith('../') || ROOTS.includes(first) || /^[A-Z][A-Z-]+\.md$/.test(ref);
        if (!local || /[*<>{}]/.test(ref)) continue;
        checked += 1;
        if (!resolves(ref, file)) broken.push(`${relative(repoRoot, file)}: ${ref}`);
      }
    }
    expect(broken).toEqual([]);
    // The scan itself works: comments here do point at files (a regex that matched nothing would pass).
    expect(checked).toBeGreaterThan(20);
  });
});
