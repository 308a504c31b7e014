import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '@patchflow/testing';
import { tokens } from './helpers.js';
import { startSystemInProcess, type System } from './system.js';

// The Action History UI in real headless Chromium (Debian's `chromium` package) against the
// whole system: patch-status, action-log, the four workflows with fake Slack/GitLab/Jira, gateway.
const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

let system: System;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  system = await startSystemInProcess('ui');
  system.fakes.jira.addIssue('PAY-48');
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: chromiumArgs });
  page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
});

afterAll(async () => {
  await browser?.close();
  await system?.stop();
});

describe('Action History UI', () => {
  it('refuses a wrong token and signs in with a good one, for the session', async () => {
    await page.goto(system.url);
    await page.getByTestId('token-input').fill('not-a-real-token');
    await page.getByTestId('login').click();
    await expect.poll(() => page.locator('#login-error').textContent(), { timeout: 20_000 }).toMatch(/not accepted/);
    await page.getByTestId('token-input').fill(tokens.operator);
    await page.getByTestId('login').click();
    await page.getByTestId('whoami').getByText('otto (operator)').waitFor();
    expect(await page.evaluate('sessionStorage.getItem("patchflow.token")')).toBe(tokens.operator);
  });

  it('creates a patch, clicks through to startDeployment and shows the workflows live', async () => {
    await page.getByTestId('new-name').fill('payments 2026.48.1');
    await page.getByTestId('new-product').fill('payments');
    await page.getByTestId('new-jiraKey').fill('PAY-48');
    await page.getByTestId('new-gitRef').fill('release/2026.48');
    await page.getByTestId('create-patch').click();
    await page.getByTestId('patch-name').getByText('payments 2026.48.1').waitFor();
    await page.getByTestId('patch-status').getByText('draft').waitFor();
    await page.getByTestId('live').getByText('live').waitFor();
    // Marks this document: after a reload the mark would be gone.
    await page.evaluate('window.sameDocument = true');

    // Exactly the actions an operator may take now (cancel is admin-only).
    await expect.poll(() => page.getByTestId('actions').locator('button').allTextContents(), { timeout: 20_000 }).toEqual(['Mark active']);
    await page.getByTestId('action-markActive').click();
    await page.getByTestId('patch-status').getByText('active').waitFor();
    await expect.poll(() => page.getByTestId('actions').locator('button').allTextContents(), { timeout: 20_000 }).toEqual(['Start deployment']);
    await page.getByTestId('action-startDeployment').click();
    await page.getByTestId('patch-status').getByText('in deployment').waitFor();
    await page.locator('[data-testid="lifecycle-diagram"] g.current[data-status="in_deployment"]').waitFor();

    // The successor appears, and each workflow's execution succeeds with its steps — all pushed.
    await page.getByTestId('successor').waitFor({ timeout: 30_000 });
    for (const workflow of ['successor', 'gitlab', 'jira', 'slack']) {
      const execution = page.getByTestId(`execution-startDeployment-${workflow}`);
      await execution.and(page.locator('[data-status="succeeded"]')).waitFor({ timeout: 30_000 });
      expect(await execution.getByTestId('step').count()).toBeGreaterThan(0);
    }
    await page.getByTestId('execution-markActive-gitlab').and(page.locator('[data-status="succeeded"]')).waitFor();
    expect(await page.evaluate('window.sameDocument')).toBe(true);
    await expect.poll(() => page.getByTestId('actions').locator('button').allTextContents(), { timeout: 20_000 }).toEqual(['Complete deployment', 'Fail deployment']);

    mkdirSync(join(repoRoot, 'docs'), { recursive: true });
    await page.screenshot({ path: join(repoRoot, 'docs', 'action-history.png'), fullPage: true });
  });

  it('lists patches with filters, successor included', async () => {
    await page.goto(`${system.url}/#/?product=payments`);
    await page.getByTestId('patch-list').getByText('payments 2026.48.1').waitFor();
    const names = await page.getByTestId('patch-list').locator('tbody td:first-child').allTextContents();
    expect(names).toHaveLength(2);
    await page.getByTestId('filter-status').selectOption('in_deployment');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(() => page.getByTestId('patch-list').locator('tbody td:first-child').allTextContents(), { timeout: 20_000 }).toEqual(['payments 2026.48.1']);
  });

  it('renders the API reference at /api/docs from the OpenAPI document, under its CSP and without a token', async () => {
    const docsPage = await browser.newPage();
    const problems: string[] = [];
    docsPage.on('console', (m) => void (m.type() === 'error' && problems.push(m.text())));
    docsPage.on('pageerror', (e) => void problems.push(e.message));
    const outside: string[] = [];
    docsPage.on('request', (r) => void (!r.url().startsWith(system.url) && outside.push(r.url())));
    await docsPage.goto(`${system.url}/api/docs`);
    const doc = (await (await fetch(`${system.url}/api/openapi.json`)).json()) as { paths: Record<string, object> };
    const operations = Object.values(doc.paths).reduce((n, ops) => n + Object.keys(ops).length, 0);
    await expect.poll(() => docsPage.getByTestId('operation').count(), { timeout: 20_000 }).toBe(operations);
    const create = docsPage.locator('[data-testid="operation"][data-method="POST"][data-path="/api/patches"]');
    expect(await create.textContent()).toMatch(/Create a patch.*name\s*required/s);
    expect(await docsPage.getByTestId('schema').count()).toBeGreaterThan(5);
    expect(problems).toEqual([]);
    expect(outside).toEqual([]);
    await docsPage.close();
  });
});
