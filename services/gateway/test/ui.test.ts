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
/** The operator's page: the tests below continue where the one before left it. */
let page: Page;
/** payments 2026.48.1 (PAY-48), taken to in_deployment by the second test. */
let mainPatchId: string;
/** payments 2026.49.1 (PAY-49), whose markActive Jira move fails until the retry. */
let failingPatchId: string;

beforeAll(async () => {
  system = await startSystemInProcess('ui');
  system.fakes.jira.addIssue('PAY-48');
  system.fakes.jira.addIssue('PAY-49');
  system.fakes.jira.addIssue('PAY-50');
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: chromiumArgs });
  page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
});

afterAll(async () => {
  await browser?.close();
  await system?.stop();
});

/** The gateway's API as `token` (for what the test does behind the browser's back). */
const api = (token: string, method: string, path: string, body?: unknown) =>
  fetch(`${system.url}/api${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });

/** A new browser page signed in with `token`, at `hash`. */
async function signedIn(token: string, hash = '#/', viewport = { width: 1280, height: 1000 }): Promise<Page> {
  const p = await browser.newPage({ viewport });
  await p.goto(system.url);
  await p.getByTestId('token-input').fill(token);
  await p.getByTestId('login').click();
  await p.getByTestId('whoami').waitFor();
  await p.goto(`${system.url}/${hash}`);
  return p;
}

const patchIdOf = (p: Page) => /#\/patches\/([0-9a-f-]{36})/.exec(p.url())![1]!;
const listNames = (p: Page) => p.getByTestId('patch-list').locator('tbody td:first-child a').allTextContents();

describe('Action History UI', () => {
  it('shows only sign-in before signing in, says where the token comes from, refuses a wrong one', async () => {
    await page.goto(system.url);
    await page.getByTestId('token-input').waitFor();
    expect(await page.locator('#logout').isVisible()).toBe(false);
    expect(await page.getByTestId('nav').isVisible()).toBe(false);
    expect(await page.locator('#view').innerHTML()).toBe('');
    const help = (await page.getByTestId('login-help').textContent()) ?? '';
    expect(help).toMatch(/npm start.*prints a development admin token/s);
    expect(help).toMatch(/GATEWAY_TOKENS/);

    await page.getByTestId('token-input').fill('not-a-real-token');
    await page.getByTestId('login').click();
    await expect.poll(() => page.locator('#login-error').textContent(), { timeout: 20_000 }).toMatch(/not accepted/);
    await page.getByTestId('token-input').fill(tokens.operator);
    await page.getByTestId('login').click();
    await page.getByTestId('whoami').getByText('otto (operator)').waitFor();
    expect(await page.evaluate('sessionStorage.getItem("patchflow.token")')).toBe(tokens.operator);
    expect(await page.getByTestId('nav').isVisible()).toBe(true);
    expect(await page.getByTestId('nav-attention').isVisible()).toBe(true);
    expect(await page.locator('#login').isVisible()).toBe(false);
  });

  it('creates a patch and clicks through to startDeployment: each transition settles, with durations, attempts, links and names', async () => {
    await page.getByTestId('new-name').fill('payments 2026.48.1');
    await page.getByTestId('new-product').fill('payments');
    await page.getByTestId('new-jiraKey').fill('PAY-48');
    await page.getByTestId('new-gitRef').fill('release/2026.48');
    await page.getByTestId('create-patch').click();
    await page.getByTestId('patch-name').getByText('payments 2026.48.1').waitFor();
    mainPatchId = patchIdOf(page);
    await page.getByTestId('patch-status').getByText('draft').waitFor();
    await page.getByTestId('live').getByText('live').waitFor();
    expect(await page.getByTestId('created').textContent()).toMatch(/^by otto, /);
    expect(await page.getByTestId('effects').textContent()).toBe('No transitions yet: nothing to run.');
    // Marks this document: after a reload the mark would be gone.
    await page.evaluate('window.sameDocument = true');

    // Exactly the actions an operator may take now (cancel is admin-only).
    await expect
      .poll(() => page.getByTestId('actions').locator('button').allTextContents(), { timeout: 20_000 })
      .toEqual(['Mark active']);
    // Slack answers the next message after 4 s: until then the transition's effects are running.
    system.fakes.slack.inject({ delayMs: 4000 });
    await page.getByTestId('action-markActive').click();
    await page.getByTestId('patch-status').getByText('active').waitFor();
    // The transition is in the history as soon as the click returns.
    await page.getByTestId('entry-markActive').waitFor();
    const markActive = page.getByTestId('entry-markActive').getByTestId('settle');
    // The card and the banner say what still runs (read together: one refresh writes both).
    const running = () =>
      page.evaluate(
        `['[data-testid="entry-markActive"] [data-testid="settle"]', '[data-testid="effects"]']
          .map((sel) => document.querySelector(sel)?.textContent).join(' | ')`,
      );
    await expect.poll(running, { timeout: 20_000 }).toBe('running: slack | Still running: slack (Mark active)');
    // Then its effects settle, said on the card and for the whole patch.
    await markActive.and(page.locator('[data-state="settled"]')).waitFor({ timeout: 30_000 });
    expect(await markActive.textContent()).toMatch(/^all effects settled in \d+(\.\d)? s$/);
    await expect
      .poll(() => page.getByTestId('effects').textContent(), { timeout: 20_000 })
      .toMatch(/^All effects settled · the last transition settled in /);

    await expect
      .poll(() => page.getByTestId('actions').locator('button').allTextContents(), { timeout: 20_000 })
      .toEqual(['Start deployment']);
    await page.getByTestId('action-startDeployment').click();
    await page.getByTestId('patch-status').getByText('in deployment').waitFor();
    await page.locator('[data-testid="lifecycle-diagram"] g.current[data-status="in_deployment"]').waitFor();

    // The successor appears by name, and each workflow's execution succeeds with its steps — all pushed.
    await page.getByTestId('successor').getByText('payments 2026.48.2').waitFor({ timeout: 30_000 });
    for (const workflow of ['successor', 'gitlab', 'jira', 'slack']) {
      const execution = page.getByTestId(`execution-startDeployment-${workflow}`);
      await execution.and(page.locator('[data-status="succeeded"]')).waitFor({ timeout: 30_000 });
      expect(await execution.getByTestId('step').count()).toBeGreaterThan(0);
      // Its duration and attempt count; the attempt list opens on a click.
      expect(await execution.getByTestId('execution-facts').textContent()).toMatch(/^\d+(\.\d)? (ms|s) · 1 attempt$/);
      await execution.getByTestId('attempts').locator('summary').click();
      expect(await execution.getByTestId('attempt').getAttribute('data-outcome')).toBe('succeeded');
    }
    await page
      .getByTestId('entry-startDeployment')
      .getByTestId('settle')
      .and(page.locator('[data-state="settled"]'))
      .waitFor({ timeout: 30_000 });
    expect(await page.getByTestId('effects').getAttribute('data-state')).toBe('settled');

    // Real links: the pipeline's web_url and the Jira issue, opening elsewhere without an opener.
    const pipeline = page.getByTestId('execution-startDeployment-gitlab').getByTestId('execution-link').first();
    expect(await pipeline.textContent()).toMatch(/pipeline/);
    expect(await pipeline.getAttribute('href')).toMatch(new RegExp(`^${system.fakes.gitlab.url}/.*/pipelines/\\d+$`));
    expect(await pipeline.getAttribute('rel')).toMatch(/noopener/);
    const jira = page.getByTestId('execution-startDeployment-jira').getByTestId('execution-link').first();
    expect(await jira.textContent()).toBe('PAY-48');
    expect(await jira.getAttribute('href')).toBe(`${system.fakes.jira.url}/browse/PAY-48`);
    expect(await page.getByTestId('jira-link').getAttribute('href')).toBe(`${system.fakes.jira.url}/browse/PAY-48`);

    // Time in status: draft, active, then in deployment so far.
    expect(await page.getByTestId('status-span').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-status')))).toEqual([
      'draft',
      'active',
      'in_deployment',
    ]);
    expect(await page.getByTestId('status-span').last().locator('td').last().textContent()).toMatch(/ so far$/);

    await page.getByTestId('execution-markActive-gitlab').and(page.locator('[data-status="succeeded"]')).waitFor();
    expect(await page.evaluate('window.sameDocument')).toBe(true);
    await expect
      .poll(() => page.getByTestId('actions').locator('button').allTextContents(), { timeout: 20_000 })
      .toEqual(['Complete deployment', 'Fail deployment']);

    mkdirSync(join(repoRoot, 'docs'), { recursive: true });
    await page.screenshot({ path: join(repoRoot, 'docs', 'action-history.png'), fullPage: true });

    // The successor's page names its predecessor.
    await page.getByTestId('successor').click();
    await page.getByTestId('patch-name').getByText('payments 2026.48.2').waitFor();
    expect(await page.getByTestId('predecessor').textContent()).toBe('payments 2026.48.1');
    await page.getByTestId('predecessor').click();
    await page.getByTestId('patch-name').getByText('payments 2026.48.1').waitFor();
  });

  it('asks before Fail deployment, highlights the missing reason, keeps a reason being typed through live refreshes', async () => {
    await page.getByTestId('live').getByText('live').waitFor();
    const before = Number(await page.getByTestId('patch-version').textContent());
    // Asked first; "Back" changes nothing.
    await page.getByTestId('action-failDeployment').click();
    await page.getByTestId('dialog').waitFor();
    expect(await page.getByTestId('dialog-title').textContent()).toBe('Fail deployment?');
    expect(await page.getByTestId('dialog-message').textContent()).toMatch(
      /moves from In deployment to Deployment failed.*No reason given/,
    );
    await page.getByTestId('dialog-cancel').click();
    expect(await page.getByTestId('dialog').isVisible()).toBe(false);
    expect(Number(await page.getByTestId('patch-version').textContent())).toBe(before);
    expect(await page.getByTestId('action-error').textContent()).toBe('');

    // Confirmed without a reason: the error names it once and the reason field is marked.
    await page.getByTestId('action-failDeployment').click();
    await page.getByTestId('dialog-confirm').click();
    await expect
      .poll(() => page.getByTestId('action-error').textContent(), { timeout: 20_000 })
      .toMatch(/reason: required for failDeployment/);
    const shown = (await page.getByTestId('action-error').textContent()) ?? '';
    expect(shown.match(/required for failDeployment/g)).toHaveLength(1);
    const reason = page.getByTestId('reason');
    expect(await reason.getAttribute('aria-invalid')).toBe('true');
    expect(await reason.getAttribute('placeholder')).toBe('reason (required for Fail deployment)');

    await reason.click();
    await page.keyboard.type('rollback: ', { delay: 20 });
    expect(await reason.getAttribute('aria-invalid')).toBeNull();
    // Meanwhile someone else fails and restarts the deployment: the page refreshes live many times
    // (header, buttons, version, the workflows' steps) while the typing goes on.
    const transition = (action: string, body: Record<string, unknown> = {}) =>
      api(tokens.admin, 'POST', `/patches/${mainPatchId}/transitions`, { action, ...body });
    expect((await transition('failDeployment', { reason: 'smoke test red' })).status).toBe(200);
    await page.keyboard.type('db migration ', { delay: 20 });
    expect((await transition('startDeployment')).status).toBe(200);
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

    // The typed reason goes with the click (quoted in the question), against the version shown now.
    await page.getByTestId('action-failDeployment').click();
    expect(await page.getByTestId('dialog-message').textContent()).toMatch(/Reason: “rollback: db migration is stuck”/);
    await page.getByTestId('dialog-confirm').click();
    await page.getByTestId('patch-status').getByText('deployment failed').waitFor();
    expect(await reason.inputValue()).toBe('');
    expect(await page.getByTestId('action-error').textContent()).toBe('');
    await expect
      .poll(() => page.getByTestId('timeline').getByText('“rollback: db migration is stuck”').count(), { timeout: 20_000 })
      .toBe(1);
    // Back in deployment for the tests below.
    expect((await transition('startDeployment')).status).toBe(200);
    await page.getByTestId('patch-status').getByText('in deployment').waitFor();
  });

  it('shows step names as words (the id on hover) and folds skipped executions into one line', async () => {
    // The first startDeployment (last on the page, newest first) created the successor.
    const step = page.getByTestId('execution-startDeployment-successor').last().getByTestId('step').first().locator('.step-type');
    expect(await step.textContent()).toBe('create successor');
    expect(await step.getAttribute('title')).toBe('patch.workflow.startDeployment.createSuccessor');
    expect(
      await page.locator('.step-type').evaluateAll((els) => els.filter((e) => (e.textContent ?? '').startsWith('patch.')).length),
    ).toBe(0);

    // A patch without a Jira key: its Jira move is skipped, which folds into one quiet line.
    const created = await api(tokens.operator, 'POST', '/patches', { name: 'ledger 2026.48.1', product: 'ledger' });
    expect(created.status).toBe(201);
    const { patch } = (await created.json()) as { patch: { id: string } };
    expect((await api(tokens.operator, 'POST', `/patches/${patch.id}/mark-active`)).status).toBe(200);
    await page.goto(`${system.url}/#/patches/${patch.id}`);
    const skipped = page.getByTestId('skipped-markActive');
    await skipped.waitFor({ timeout: 30_000 });
    expect(await skipped.locator('summary').textContent()).toBe('skipped: jira');
    expect(await page.locator('[data-testid="execution-markActive-jira"]').count()).toBe(0);
    expect(await page.getByTestId('skipped-markActive-jira').isVisible()).toBe(false);
    await skipped.locator('summary').click();
    expect(await page.getByTestId('skipped-markActive-jira').textContent()).toMatch(/^jira: the patch has no jiraKey/);
    // Skipped counts as settled: the transition is done.
    await page
      .getByTestId('entry-markActive')
      .getByTestId('settle')
      .and(page.locator('[data-state="settled"]'))
      .waitFor({ timeout: 30_000 });
    // The open line stays open through a live refresh (a transition taken elsewhere).
    expect((await api(tokens.operator, 'POST', `/patches/${patch.id}/start-deployment`)).status).toBe(200);
    await page.getByTestId('entry-startDeployment').waitFor({ timeout: 20_000 });
    expect(await page.getByTestId('skipped-markActive-jira').isVisible()).toBe(true);
    // Its successor (ledger 2026.48.2) exists before the tests below read the list's order.
    await page
      .getByTestId('execution-startDeployment-successor')
      .and(page.locator('[data-status="succeeded"]'))
      .waitFor({ timeout: 30_000 });
  });

  it('shows a dead-lettered Jira move as failed: on its card, its transition, the patch and Needs attention', async () => {
    // Jira answers 503 to every move of PAY-49 to "In Progress" (markActive) until recovered.
    const recover = system.fakes.jira.failTransitionsTo('PAY-49', 'In Progress');
    try {
      await page.goto(`${system.url}/#/`);
      await page.getByTestId('new-name').fill('payments 2026.49.1');
      await page.getByTestId('new-product').fill('payments');
      await page.getByTestId('new-jiraKey').fill('PAY-49');
      await page.getByTestId('create-patch').click();
      await page.getByTestId('patch-name').getByText('payments 2026.49.1').waitFor();
      failingPatchId = patchIdOf(page);
      await page.getByTestId('action-markActive').click();
      await page.getByTestId('patch-status').getByText('active').waitFor();

      const card = page.getByTestId('execution-markActive-jira');
      await card.getByTestId('retry-jira').waitFor({ timeout: 60_000 });
      expect(await card.getAttribute('data-status')).toBe('failed');
      expect(await card.getByTestId('execution-facts').textContent()).toMatch(/dead-lettered/);
      const settle = page.getByTestId('entry-markActive').getByTestId('settle');
      await settle.and(page.locator('[data-state="failed"]')).waitFor({ timeout: 20_000 });
      expect(await settle.textContent()).toBe('failed: jira');
      await expect.poll(() => page.getByTestId('effects').textContent(), { timeout: 20_000 }).toBe('Failed: jira (Mark active)');
      expect(await page.getByTestId('has-failures').textContent()).toBe('1 failed');
      expect(await page.getByTestId('has-failures').getAttribute('title')).toBe('markActive · jira');

      // Needs attention lists it, linking to the patch.
      await page.getByTestId('nav-attention').click();
      const item = page.getByTestId('attention-item').filter({ hasText: 'payments 2026.49.1' });
      await item.waitFor({ timeout: 20_000 });
      expect(await item.textContent()).toMatch(/Mark active · jira/);
      expect(await item.getAttribute('data-kind')).toMatch(/^(dead_letter|failed)$/);
      await item.getByRole('link', { name: 'payments 2026.49.1' }).click();
      await page.getByTestId('patch-name').getByText('payments 2026.49.1').waitFor();
    } finally {
      recover();
    }
  });

  it('lists failures first: a failure badge, the "has failures" filter, server-side search, sort by updated', async () => {
    await page.goto(`${system.url}/#/`);
    await page.getByTestId('patch-list').getByText('payments 2026.49.1').waitFor();
    expect(await page.getByTestId('sort-column').textContent()).toBe('Updated ↓');
    // The failing patch changed last: first by update.
    expect((await listNames(page))[0]).toBe('payments 2026.49.1');
    const row = page.getByTestId('patch-row').filter({ hasText: 'payments 2026.49.1' });
    expect(await row.getByTestId('row-failures').textContent()).toBe('1 failed');

    await page.getByTestId('filter-failures').locator('input').check();
    await expect.poll(() => listNames(page), { timeout: 20_000 }).toEqual(['payments 2026.49.1']);
    expect(page.url()).toMatch(/#\/\?hasFailures=true$/);
    await page.getByTestId('filter-failures').locator('input').uncheck();

    // The search asks the server (not only the loaded rows), case-insensitively.
    await page.getByTestId('filter-name').fill('PAYMENTS 2026.48');
    await expect.poll(() => listNames(page), { timeout: 20_000 }).toEqual(['payments 2026.48.1', 'payments 2026.48.2']);
    await page.getByTestId('filter-name').fill('nothing like it');
    await expect.poll(() => page.getByTestId('list-empty').isVisible(), { timeout: 20_000 }).toBe(true);
    expect(await page.getByTestId('list-empty').textContent()).toBe('No patches match.');
    expect(await listNames(page)).toEqual([]);

    // By creation instead: the newest patch first, and the column says so.
    await page.getByTestId('filter-name').fill('');
    await page.getByTestId('sort').selectOption('created');
    await expect.poll(() => page.getByTestId('sort-column').textContent(), { timeout: 20_000 }).toBe('Created ↓');
    await expect.poll(async () => (await listNames(page))[0], { timeout: 20_000 }).toBe('payments 2026.49.1');

    // The filters are in the address: a reload shows the same list.
    await page.getByTestId('filter-status').selectOption('in_deployment');
    await page.getByTestId('filter-product').fill('payments');
    await expect.poll(() => listNames(page), { timeout: 20_000 }).toEqual(['payments 2026.48.1']);
    await page.reload();
    await expect.poll(() => listNames(page), { timeout: 20_000 }).toEqual(['payments 2026.48.1']);
    expect(await page.getByTestId('filter-status').inputValue()).toBe('in_deployment');
  });

  it('retries the failed Jira move from the UI (not offered to a viewer): it succeeds and the card lists every attempt', async () => {
    const viewer = await signedIn(tokens.viewer, `#/patches/${failingPatchId}`);
    try {
      await viewer
        .getByTestId('execution-markActive-jira')
        .and(viewer.locator('[data-status="failed"]'))
        .waitFor({ timeout: 20_000 });
      expect(await viewer.getByTestId('retry-jira').count()).toBe(0);
      expect(await viewer.getByTestId('nav-attention').isVisible()).toBe(false);
    } finally {
      await viewer.close();
    }

    await page.goto(`${system.url}/#/patches/${failingPatchId}`);
    const card = page.getByTestId('execution-markActive-jira');
    await card.getByTestId('retry-jira').click();
    expect(await page.getByTestId('dialog-title').textContent()).toBe('Retry jira?');
    expect(await page.getByTestId('dialog-confirm').isEnabled()).toBe(true);
    await page.getByTestId('dialog-reason').fill('Jira is back');
    await page.getByTestId('dialog-confirm').click();
    await expect
      .poll(() => card.getByTestId('repair-outcome').textContent(), { timeout: 60_000 })
      .toMatch(/^retry: (succeeded|queued)/);
    await card.and(page.locator('[data-status="succeeded"]')).waitFor({ timeout: 60_000 });
    expect(system.fakes.jira.issues.get('PAY-49')!.status).toBe('In Progress');

    await card.getByTestId('attempts').locator('summary').click();
    const outcomes = await card.getByTestId('attempt').evaluateAll((li) => li.map((l) => l.getAttribute('data-outcome')));
    expect(outcomes.length).toBeGreaterThanOrEqual(2);
    expect(outcomes.at(-1)).toBe('succeeded');
    expect(outcomes.slice(0, -1).every((o) => o === 'failed')).toBe(true);
    expect(await card.getByTestId('attempt').first().locator('.error').textContent()).toMatch(/503/);
    await expect.poll(() => page.getByTestId('effects').getAttribute('data-state'), { timeout: 20_000 }).toBe('settled');
    expect(await page.getByTestId('has-failures').isVisible()).toBe(false);
    expect(await card.getByTestId('retry-jira').count()).toBe(0);
    // Who retried and why is in the history.
    await expect.poll(() => card.textContent(), { timeout: 20_000 }).toMatch(/retried by otto: Jira is back/);
  });

  it('retries a dead-lettered Jira move from its Needs attention row: the row goes, the move lands', async () => {
    const recover = system.fakes.jira.failTransitionsTo('PAY-50', 'In Progress');
    let patchId: string;
    const row = page.getByTestId('attention-item').filter({ hasText: 'ledger 2026.50.1' });
    try {
      const created = await api(tokens.operator, 'POST', '/patches', {
        name: 'ledger 2026.50.1',
        product: 'ledger',
        jiraKey: 'PAY-50',
      });
      expect(created.status).toBe(201);
      patchId = ((await created.json()) as { patch: { id: string } }).patch.id;
      expect((await api(tokens.operator, 'POST', `/patches/${patchId}/mark-active`)).status).toBe(200);
      await page.goto(`${system.url}/#/attention`);
      // Dead-lettered after its quick retries; the list is read when the page opens.
      await expect
        .poll(
          async () => {
            await page.getByRole('button', { name: 'Refresh' }).click();
            return row.getAttribute('data-kind', { timeout: 2000 }).catch(() => null);
          },
          { timeout: 60_000, interval: 1000 },
        )
        .toBe('dead_letter');
    } finally {
      recover();
    }
    await row.getByTestId('attention-retry').click();
    expect(await page.getByTestId('dialog-title').textContent()).toBe('Retry jira?');
    await page.getByTestId('dialog-reason').fill('PAY-50 unlocked');
    await page.getByTestId('dialog-confirm').click();
    // Once it succeeded the list is read again and the row is gone.
    await expect.poll(() => row.count(), { timeout: 60_000 }).toBe(0);
    expect(system.fakes.jira.issues.get('PAY-50')!.status).toBe('In Progress');
    await page.goto(`${system.url}/#/patches/${patchId}`);
    const card = page.getByTestId('execution-markActive-jira');
    await card.and(page.locator('[data-status="succeeded"]')).waitFor({ timeout: 30_000 });
    await expect.poll(() => card.textContent(), { timeout: 20_000 }).toMatch(/retried by otto: PAY-50 unlocked/);
  });

  it('asks an admin before Cancel, and lets an admin replay a workflow with a required reason', async () => {
    const admin = await signedIn(tokens.admin, `#/patches/${failingPatchId}`);
    try {
      const card = admin.getByTestId('execution-markActive-slack');
      await card.and(admin.locator('[data-status="succeeded"]')).waitFor({ timeout: 20_000 });
      await card.getByTestId('replay-slack').click();
      expect(await admin.getByTestId('dialog-confirm').isEnabled()).toBe(false);
      await admin.getByTestId('dialog-reason').fill('the channel was archived');
      await admin.getByTestId('dialog-confirm').click();
      await expect
        .poll(() => card.getByTestId('repair-outcome').textContent(), { timeout: 60_000 })
        .toMatch(/^replay: (succeeded|queued)/);
      // Who forced it and why is in the history.
      await expect.poll(() => card.textContent(), { timeout: 20_000 }).toMatch(/replay forced by ada: the channel was archived/);

      await admin.getByTestId('action-cancel').click();
      expect(await admin.getByTestId('dialog-title').textContent()).toBe('Cancel?');
      expect(await admin.getByTestId('dialog-message').textContent()).toMatch(/to Cancelled, a final status/);
      await admin.keyboard.press('Escape');
      expect(await admin.getByTestId('dialog').isVisible()).toBe(false);
      expect(await admin.getByTestId('patch-status').textContent()).toBe('active');

      await admin.getByTestId('reason').fill('superseded by 2026.49.2');
      await admin.getByTestId('action-cancel').click();
      await admin.getByTestId('dialog-confirm').click();
      await admin.getByTestId('patch-status').getByText('cancelled').waitFor();
      await admin.getByTestId('entry-cancel').getByText('“superseded by 2026.49.2”').waitFor();
    } finally {
      await admin.close();
    }
  });

  it('highlights the bad field of a refused create and names the existing patch of a duplicate', async () => {
    await page.goto(`${system.url}/#/`);
    await page.getByTestId('new-name').fill('payments 2026.50.1');
    await page.getByTestId('new-product').fill('payments');
    await page.getByTestId('new-jiraKey').fill('pay 50');
    await page.getByTestId('create-patch').click();
    await expect.poll(() => page.getByTestId('new-jiraKey').getAttribute('aria-invalid'), { timeout: 20_000 }).toBe('true');
    expect(await page.getByTestId('create-error').textContent()).toMatch(/jiraKey: a Jira issue key such as PAY-123/);
    expect(await page.getByTestId('new-name').getAttribute('aria-invalid')).toBeNull();
    expect(await page.getByTestId('new-jiraKey').getAttribute('title')).toBe('a Jira issue key such as PAY-123');
    expect(await page.evaluate('document.activeElement?.getAttribute("data-testid")')).toBe('new-jiraKey');

    // A second payments 2026.48.1 is refused once, with a link to the first.
    await page.getByTestId('new-name').fill('payments 2026.48.1');
    await page.getByTestId('new-jiraKey').fill('');
    await page.getByTestId('create-patch').click();
    await page.getByTestId('existing-patch').waitFor({ timeout: 20_000 });
    const refusal = (await page.getByTestId('create-error').textContent()) ?? '';
    expect(refusal.match(/payments 2026\.48\.1/g)).toHaveLength(1);
    expect(await page.getByTestId('new-jiraKey').getAttribute('aria-invalid')).toBeNull();
    await page.getByTestId('existing-patch').click();
    await expect.poll(() => patchIdOf(page)).toBe(mainPatchId);
  });

  it('says "reconnecting…" while its live stream is refused (the token holds all its streams), and goes live once one is free', async () => {
    // Hold every stream the viewer's token may have: the next one is refused with 429.
    const held: AbortController[] = [];
    for (let i = 0; i < 100; i++) {
      const abort = new AbortController();
      const res = await fetch(`${system.url}/api/patches/${mainPatchId}/events?access_token=${tokens.viewer}`, {
        signal: abort.signal,
      });
      if (res.status === 429) break;
      expect(res.status).toBe(200);
      held.push(abort);
    }
    expect(held.length).toBeGreaterThan(0);
    expect(held.length).toBeLessThan(100);
    const viewer = await signedIn(tokens.viewer, `#/patches/${mainPatchId}`);
    try {
      await expect.poll(() => viewer.getByTestId('live').textContent(), { timeout: 20_000 }).toBe('reconnecting…');
      // Refused, so EventSource gave up: only the page's own retry can bring it back.
      for (const abort of held.splice(0)) abort.abort();
      await expect.poll(() => viewer.getByTestId('live').textContent(), { timeout: 20_000 }).toBe('● live');
    } finally {
      for (const abort of held) abort.abort();
      await viewer.close();
    }
  });

  it('at 375 px wide: sign-in alone, then the patch page without sideways scrolling (the lifecycle scrolls in its card)', async () => {
    const narrow = await browser.newPage({ viewport: { width: 375, height: 800 } });
    try {
      await narrow.goto(system.url);
      await narrow.getByTestId('token-input').waitFor();
      expect(await narrow.locator('#logout').isVisible()).toBe(false);
      expect(await narrow.getByTestId('nav').isVisible()).toBe(false);
      await narrow.screenshot({ path: join(repoRoot, 'reports', 'sign-in-375px.png'), fullPage: true });
      await narrow.getByTestId('token-input').fill(tokens.operator);
      await narrow.getByTestId('login').click();
      await narrow.getByTestId('whoami').getByText('otto (operator)').waitFor();
      expect(await narrow.locator('#logout').isVisible()).toBe(true);
      await narrow.getByTestId('patch-list').getByText('payments 2026.48.1').waitFor();
      expect(await narrow.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);
      // The list keeps name, status and time, and fits without scrolling sideways.
      expect(await narrow.getByTestId('patch-list').locator('th:visible').allTextContents()).toEqual([
        'Patch',
        'Status',
        'Updated ↓',
      ]);
      expect(await narrow.getByTestId('patch-list').evaluate((t) => t.getBoundingClientRect().right)).toBeLessThanOrEqual(375);
      await narrow.screenshot({ path: join(repoRoot, 'reports', 'patch-list-375px.png'), fullPage: true });

      await narrow.goto(`${system.url}/#/patches/${mainPatchId}`);
      await narrow.getByTestId('lifecycle-diagram').waitFor();
      await narrow.getByTestId('timeline').getByTestId('step').first().waitFor();
      await narrow.getByTestId('effects').and(narrow.locator('[data-state="settled"]')).waitFor({ timeout: 30_000 });
      const box = await narrow.getByTestId('diagram').evaluate((d) => ({
        scroll: d.scrollWidth,
        client: d.clientWidth,
        svg: d.querySelector('svg')!.getBoundingClientRect().width,
        label: d.querySelector('g[data-status] text')!.getBoundingClientRect().height,
      }));
      expect(box.svg).toBeGreaterThanOrEqual(1000);
      expect(box.scroll).toBeGreaterThan(box.client);
      expect(box.label).toBeGreaterThanOrEqual(10);
      // Only the diagram scrolls sideways, not the page; the action buttons fit.
      expect(await narrow.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);
      const right = await narrow
        .getByTestId('actions')
        .locator('button')
        .evaluateAll((bs) => bs.map((b) => b.getBoundingClientRect().right));
      expect(Math.max(...right)).toBeLessThanOrEqual(375);
      await narrow.screenshot({ path: join(repoRoot, 'reports', 'action-history-375px.png'), fullPage: true });
    } finally {
      await narrow.close();
    }
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
    // The trace headers every operation shares are references in the document, shown by name.
    expect(await create.textContent()).toContain('traceparent (header)');
    expect(await docsPage.locator('body').textContent()).not.toContain('undefined');
    expect(await docsPage.getByTestId('schema').count()).toBeGreaterThan(5);
    expect(problems).toEqual([]);
    expect(outside).toEqual([]);
    await docsPage.close();
  });
});
