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
    await expect
      .poll(() => page.getByTestId('actions').locator('button').allTextContents(), { timeout: 20_000 })
      .toEqual(['Mark active']);
    await page.getByTestId('action-markActive').click();
    await page.getByTestId('patch-status').getByText('active').waitFor();
    await expect
      .poll(() => page.getByTestId('actions').locator('button').allTextContents(), { timeout: 20_000 })
      .toEqual(['Start deployment']);
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
    await expect
      .poll(() => page.getByTestId('actions').locator('button').allTextContents(), { timeout: 20_000 })
      .toEqual(['Complete deployment', 'Fail deployment']);

    mkdirSync(join(repoRoot, 'docs'), { recursive: true });
    await page.screenshot({ path: join(repoRoot, 'docs', 'action-history.png'), fullPage: true });
  });

  it('keeps a reason being typed through live refreshes, and shows an error once', async () => {
    const patchId = /#\/patches\/([0-9a-f-]{36})/.exec(page.url())![1]!;
    // Fail deployment needs a reason: without one the error names it once.
    await page.getByTestId('action-failDeployment').click();
    await expect
      .poll(() => page.getByTestId('action-error').textContent(), { timeout: 20_000 })
      .toMatch(/reason: required for failDeployment/);
    const shown = (await page.getByTestId('action-error').textContent()) ?? '';
    expect(shown.match(/required for failDeployment/g)).toHaveLength(1);
    expect(await page.getByTestId('reason').getAttribute('placeholder')).toBe('reason (required for Fail deployment)');

    const reason = page.getByTestId('reason');
    await reason.click();
    await page.keyboard.type('rollback: ', { delay: 20 });
    // Meanwhile someone else fails and restarts the deployment: the page refreshes live many times
    // (header, buttons, version, the workflows' steps) while the typing goes on.
    const api = (action: string, body: Record<string, unknown> = {}) =>
      fetch(`${system.url}/api/patches/${patchId}/transitions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokens.admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({ action, ...body }),
      });
    const before = Number(await page.getByTestId('patch-version').textContent());
    expect((await api('failDeployment', { reason: 'smoke test red' })).status).toBe(200);
    await page.keyboard.type('db migration ', { delay: 20 });
    expect((await api('startDeployment')).status).toBe(200);
    await page.keyboard.type('is stuck', { delay: 20 });
    await page
      .getByTestId('execution-failDeployment-jira')
      .and(page.locator('[data-status="succeeded"]'))
      .waitFor({ timeout: 30_000 });
    await expect
      .poll(() => page.getByTestId('timeline').locator('[data-testid="entry-startDeployment"]').count(), { timeout: 20_000 })
      .toBe(2);
    await page.getByTestId('patch-status').getByText('in deployment').waitFor();
    expect(Number(await page.getByTestId('patch-version').textContent())).toBe(before + 2);
    expect(await reason.inputValue()).toBe('rollback: db migration is stuck');
    expect(await page.evaluate('document.activeElement?.getAttribute("data-testid")')).toBe('reason');
    expect(await page.getByTestId('action-error').textContent()).toBe(shown);

    // The typed reason goes with the click, against the version shown now.
    await page.getByTestId('action-failDeployment').click();
    await page.getByTestId('patch-status').getByText('deployment failed').waitFor();
    expect(await reason.inputValue()).toBe('');
    expect(await page.getByTestId('action-error').textContent()).toBe('');
    await expect
      .poll(() => page.getByTestId('timeline').getByText('“rollback: db migration is stuck”').count(), { timeout: 20_000 })
      .toBe(1);
    // Back in deployment for the tests below.
    expect((await api('startDeployment')).status).toBe(200);
    await page.getByTestId('patch-status').getByText('in deployment').waitFor();
  });

  it('shows step names humanized (raw id as tooltip), not-configured skips as one quiet line, and a failure badge', async () => {
    const step = page.getByTestId('execution-startDeployment-successor').getByTestId('step').first().locator('.step-type');
    expect(await step.first().textContent()).toBe('create successor');
    expect(await step.first().getAttribute('title')).toBe('patch.workflow.startDeployment.createSuccessor');
    expect(
      await page.locator('.step-type').evaluateAll((els) => els.filter((e) => (e.textContent ?? '').startsWith('patch.')).length),
    ).toBe(0);

    const historyUrl = /\/api\/patches\/[0-9a-f-]{36}\/history/;
    // The test system configures every workflow; the history is rewritten in the browser to show
    // Slack as not configured and the markActive Jira move dead-lettered.
    await page.route(historyUrl, async (route) => {
      const res = await route.fetch();
      const body = (await res.json()) as { entries: { action: string; executions: Record<string, unknown>[] }[] };
      for (const entry of body.entries) {
        for (const e of entry.executions) {
          if (e.workflow === 'slack') {
            Object.assign(e, {
              status: 'skipped',
              steps: [
                {
                  ...(e.steps as object[])[0],
                  subactionType: `patch.workflow.${entry.action}.skipped`,
                  message: 'skipped: not configured (SLACK_WEBHOOK_URL is not set)',
                },
              ],
            });
          }
          if (e.workflow === 'jira' && entry.action === 'markActive')
            Object.assign(e, { status: 'failed', deadLettered: true, lastError: 'HTTP 503' });
        }
      }
      await route.fulfill({ response: res, json: body });
    });
    await page.reload();
    await page.getByTestId('has-failures').waitFor({ timeout: 20_000 });
    expect(await page.getByTestId('has-failures').textContent()).toBe('1 failed');
    expect(await page.getByTestId('has-failures').getAttribute('title')).toBe('markActive · jira');
    const quiet = page.getByTestId('not-configured-startDeployment').first();
    expect(await quiet.textContent()).toBe('skipped, not configured: slack');
    expect(await quiet.getAttribute('title')).toBe('slack: skipped: not configured (SLACK_WEBHOOK_URL is not set)');
    expect(await page.locator('[data-testid^="execution-"][data-testid$="-slack"]').count()).toBe(0);
    await page.unroute(historyUrl);
  });

  it('at 420 px wide: no "Sign out" before signing in, the lifecycle scrolls at a readable size, the page does not', async () => {
    const narrow = await browser.newPage({ viewport: { width: 420, height: 900 } });
    try {
      await narrow.goto(system.url);
      await narrow.getByTestId('token-input').waitFor();
      expect(await narrow.locator('#logout').isVisible()).toBe(false);
      expect(await narrow.locator('#session').isVisible()).toBe(false);
      await narrow.getByTestId('token-input').fill(tokens.operator);
      await narrow.getByTestId('login').click();
      await narrow.getByTestId('whoami').getByText('otto (operator)').waitFor();
      expect(await narrow.locator('#logout').isVisible()).toBe(true);
      await narrow.goto(page.url().replace(/^.*#/, `${system.url}/#`));
      await narrow.getByTestId('lifecycle-diagram').waitFor();
      await narrow.getByTestId('timeline').getByTestId('step').first().waitFor();
      const box = await narrow.getByTestId('diagram').evaluate((d) => ({
        scroll: d.scrollWidth,
        client: d.clientWidth,
        svg: d.querySelector('svg')!.getBoundingClientRect().width,
        label: d.querySelector('g[data-status] text')!.getBoundingClientRect().height,
      }));
      expect(box.svg).toBeGreaterThanOrEqual(1000);
      expect(box.scroll).toBeGreaterThan(box.client);
      expect(box.label).toBeGreaterThanOrEqual(10);
      // Only the diagram scrolls sideways, not the page.
      expect(await narrow.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(420);
      await narrow.screenshot({ path: join(repoRoot, 'reports', 'action-history-420px.png'), fullPage: true });
    } finally {
      await narrow.close();
    }
  });

  it('lists patches with filters, successor included', async () => {
    await page.goto(`${system.url}/#/?product=payments`);
    await page.getByTestId('patch-list').getByText('payments 2026.48.1').waitFor();
    const names = await page.getByTestId('patch-list').locator('tbody td:first-child').allTextContents();
    expect(names).toHaveLength(2);
    await page.getByTestId('filter-status').selectOption('in_deployment');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect
      .poll(() => page.getByTestId('patch-list').locator('tbody td:first-child').allTextContents(), { timeout: 20_000 })
      .toEqual(['payments 2026.48.1']);
  });

  it('searches the loaded patches by name, and labels the column it sorts by', async () => {
    await page.goto(`${system.url}/#/?product=payments`);
    await page.getByTestId('patch-list').getByText('payments 2026.48.2').waitFor();
    expect(await page.getByTestId('patch-list').locator('th').last().textContent()).toBe('Created ↓');
    const visible = () => page.getByTestId('patch-list').locator('tbody tr:not([hidden]) td:first-child').allTextContents();
    await page.getByTestId('filter-name').fill('48.2');
    await expect.poll(visible).toEqual(['payments 2026.48.2']);
    await page.getByTestId('filter-name').fill('nothing like it');
    await expect.poll(visible).toEqual([]);
    expect(await page.getByTestId('list-empty').textContent()).toBe('No loaded patch has “nothing like it” in its name.');
    await page.getByTestId('filter-name').fill('');
    await expect.poll(visible).toEqual(['payments 2026.48.2', 'payments 2026.48.1']);
    // A second patch of the same product and name is refused (409 already_exists), said once.
    const before = page.url();
    await page.getByTestId('new-name').fill('payments 2026.48.1');
    await page.getByTestId('new-product').fill('payments');
    await page.getByTestId('create-patch').click();
    const refused = page.locator('.card p.error[role="alert"]').first();
    await expect
      .poll(() => refused.textContent(), { timeout: 20_000 })
      .toMatch(/^product payments already has a patch named "payments 2026\.48\.1" \([0-9a-f-]{36}\)$/);
    expect(page.url()).toBe(before);
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
