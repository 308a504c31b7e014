// The Action History UI: a patch list and a patch page with its lifecycle, the actions allowed
// now and a live timeline of its workflows. Plain DOM; every value is set as text, never HTML.
import { renderLifecycle } from './lifecycle-diagram.js';

const TOKEN_KEY = 'patchflow.token';
const $ = (sel) => document.querySelector(sel);
const view = $('#view');
let lifecycle;
let session;
let liveSource;

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat())
    if (c !== null && c !== undefined && c !== false) node.append(c instanceof Node ? c : String(c));
  return node;
}
const badge = (status, testid) => h('span', { class: `badge ${status}`, 'data-testid': testid, text: status.replace(/_/g, ' ') });
const time = (iso) => (iso ? new Date(iso).toLocaleString() : '');

class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function api(path, options = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const res = await fetch(path, {
    ...options,
    headers: {
      authorization: `Bearer ${token}`,
      ...(options.body ? { 'content-type': 'application/json' } : {}),
      ...options.headers,
    },
  });
  const body = res.headers.get('content-type')?.includes('json') ? await res.json() : undefined;
  if (res.status === 401) {
    logout('Your token was not accepted; sign in again.');
    throw new ApiError(401, body);
  }
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

function logout(message = '') {
  sessionStorage.removeItem(TOKEN_KEY);
  session = undefined;
  liveSource?.close();
  $('#session').hidden = true;
  view.replaceChildren();
  $('#login').hidden = false;
  $('#login-error').textContent = message;
}

async function login(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
  try {
    session = await api('/api/session');
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401))
      $('#login-error').textContent = err instanceof Error ? err.message : String(err);
    return;
  }
  lifecycle ??= await api('/api/lifecycle');
  $('#login').hidden = true;
  $('#session').hidden = false;
  $('#whoami').textContent = `${session.name} (${session.role})`;
  route();
}

function route() {
  if (!session) return;
  liveSource?.close();
  liveSource = undefined;
  const match = /^#\/patches\/([0-9a-f-]{36})$/.exec(location.hash);
  if (match) void showPatch(match[1]);
  else void showList();
}

// ---- the patch list ----------------------------------------------------------------------

async function showList() {
  const params = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const status = h(
    'select',
    { name: 'status', 'data-testid': 'filter-status' },
    h('option', { value: '', text: 'any status' }),
    lifecycle.statuses.map((s) => h('option', { value: s.name, text: s.label, selected: params.get('status') === s.name })),
  );
  const product = h('input', {
    name: 'product',
    placeholder: 'product',
    value: params.get('product') ?? '',
    'data-testid': 'filter-product',
  });
  const filters = h(
    'form',
    {
      class: 'inline',
      onsubmit: (e) => {
        e.preventDefault();
        const q = new URLSearchParams();
        if (status.value) q.set('status', status.value);
        if (product.value.trim()) q.set('product', product.value.trim());
        location.hash = `#/?${q}`;
      },
    },
    status,
    product,
    h('button', { type: 'submit', class: 'secondary', text: 'Filter' }),
  );

  // The list API pages by creation, newest first, and carries no failure data: the name search
  // filters the rows loaded so far (here, in the browser); failures show on each patch's page.
  const search = h('input', {
    type: 'search',
    name: 'search',
    placeholder: 'search loaded names',
    'aria-label': 'search by name (loaded rows)',
    'data-testid': 'filter-name',
    oninput: () => applySearch(),
  });
  const rows = h('tbody');
  const table = h(
    'table',
    { 'data-testid': 'patch-list' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Patch', 'Product', 'Status', 'Version', 'Created ↓'].map((t) => h('th', { text: t })),
      ),
    ),
    rows,
  );
  const empty = h('p', { class: 'muted', hidden: true, 'data-testid': 'list-empty' });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true, text: 'More' });
  let cursor;
  const applySearch = () => {
    const needle = search.value.trim().toLowerCase();
    let visible = 0;
    for (const row of rows.children) {
      const match = !needle || row.dataset.name.toLowerCase().includes(needle);
      row.hidden = !match;
      if (match) visible++;
    }
    empty.hidden = visible > 0;
    empty.textContent =
      rows.children.length === 0
        ? 'No patches match.'
        : `No loaded patch has “${search.value.trim()}” in its name${cursor ? ' — “More” loads older ones' : ''}.`;
  };
  const load = async () => {
    const q = new URLSearchParams({ limit: '50' });
    for (const k of ['status', 'product']) if (params.get(k)) q.set(k, params.get(k));
    if (cursor) q.set('cursor', cursor);
    const page = await api(`/api/patches?${q}`);
    for (const p of page.items) {
      rows.append(
        h(
          'tr',
          { 'data-name': p.name },
          h('td', {}, h('a', { href: `#/patches/${p.id}`, text: p.name })),
          h('td', { text: p.product }),
          h('td', {}, badge(p.status)),
          h('td', { text: p.version }),
          h('td', { class: 'muted', title: `updated ${time(p.updatedAt)}`, text: time(p.createdAt) }),
        ),
      );
    }
    cursor = page.nextCursor;
    more.hidden = !cursor;
    applySearch();
  };
  more.addEventListener('click', () => void load().catch(showError));

  view.replaceChildren(
    h('h1', { text: 'Patches' }),
    session.role === 'viewer' ? '' : createForm(),
    h('div', { class: 'card' }, filters, search),
    h('div', { class: 'scroll-x' }, table),
    empty,
    more,
  );
  await load().catch(showError);
}

function createForm() {
  const error = h('p', { class: 'error', role: 'alert' });
  const field = (name, placeholder, required) => h('input', { name, placeholder, required, 'data-testid': `new-${name}` });
  const form = h(
    'form',
    {
      class: 'inline',
      onsubmit: async (e) => {
        e.preventDefault();
        const data = Object.fromEntries([...new FormData(form)].filter(([, v]) => String(v).trim() !== ''));
        try {
          const { patch } = await api('/api/patches', { method: 'POST', body: JSON.stringify(data) });
          location.hash = `#/patches/${patch.id}`;
        } catch (err) {
          error.textContent = describe(err);
        }
      },
    },
    field('name', 'name, e.g. payments 2026.48.1', true),
    field('product', 'product, e.g. payments', true),
    field('jiraKey', 'Jira key (optional)'),
    field('gitRef', 'git ref (optional)'),
    h('button', { type: 'submit', 'data-testid': 'create-patch', text: 'Create patch' }),
  );
  return h('div', { class: 'card' }, h('h2', { text: 'New patch', class: 'flush' }), form, error);
}

// ---- the patch page -------------------------------------------------------------------------

async function showPatch(id) {
  const header = patchHeader();
  const diagram = h('div', { class: 'card diagram', 'data-testid': 'diagram' });
  let diagramStatus;
  const timeline = h('ol', { class: 'timeline', 'data-testid': 'timeline' });
  const live = h('span', { class: 'live off', 'data-testid': 'live', text: 'connecting…' });
  view.replaceChildren(
    h('p', {}, h('a', { href: '#/', text: '← all patches' })),
    header.card,
    h('h2', { text: 'Lifecycle' }),
    diagram,
    h('h2', {}, 'History ', live),
    timeline,
  );

  let pending;
  // Fetches can overlap (a click and a live ping): only a newer fetch may replace what is shown.
  let started = 0;
  let shown = 0;
  const refresh = async () => {
    const mine = ++started;
    const [detail, history] = await Promise.all([api(`/api/patches/${id}`), api(`/api/patches/${id}/history?limit=200`)]);
    if (mine < shown) return;
    shown = mine;
    // Only what changed is replaced: a reason being typed keeps its text and focus.
    header.update(detail, history, refresh);
    if (diagramStatus !== detail.patch.status) {
      diagramStatus = detail.patch.status;
      diagram.replaceChildren(renderLifecycle(lifecycle, detail.patch.status));
    }
    renderTimeline(timeline, history);
  };
  // Every ping means "something changed": refetch, at most one fetch in flight plus one queued.
  const schedule = () => {
    if (pending) return;
    pending = setTimeout(() => {
      pending = undefined;
      refresh().catch(showError);
    }, 100);
  };
  await refresh().catch(showError);
  liveSource = new EventSource(`/api/patches/${id}/events?access_token=${encodeURIComponent(sessionStorage.getItem(TOKEN_KEY))}`);
  liveSource.addEventListener('ready', () => {
    live.className = 'live';
    live.textContent = '● live';
    schedule(); // anything missed while (re)connecting
  });
  liveSource.addEventListener('updated', schedule);
  liveSource.addEventListener('error', () => {
    live.className = 'live off';
    live.textContent = 'reconnecting…';
  });
}

/**
 * The patch page's header card, built once and updated in place on every refresh: the facts and
 * buttons are replaced when they change, while the reason input and the action error stay the
 * same elements (a live refresh never erases what is being typed, nor the last error).
 */
function patchHeader() {
  let current;
  let refreshPage;
  let buttonsKey;
  const title = h('h1', { 'data-testid': 'patch-name', class: 'flush' });
  const failures = h('span', { class: 'badge failed', 'data-testid': 'has-failures', hidden: true });
  const facts = h('div', { class: 'facts' });
  const buttons = h('span', { class: 'buttons' });
  const noActions = h('span', { class: 'muted' });
  const reason = h('input', { name: 'reason', 'data-testid': 'reason', autocomplete: 'off' });
  const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'action-error' });
  const card = h(
    'div',
    { class: 'card' },
    h('div', { class: 'title-row' }, title, failures),
    facts,
    h('div', { class: 'actions', 'data-testid': 'actions' }, buttons, noActions, reason),
    error,
  );

  const take = async (name, button) => {
    button.disabled = true;
    error.textContent = '';
    try {
      const body = { action: name, expectedVersion: current.patch.version };
      if (reason.value.trim()) body.reason = reason.value.trim();
      await api(`/api/patches/${current.patch.id}/transitions`, { method: 'POST', body: JSON.stringify(body) });
      reason.value = '';
      await refreshPage();
    } catch (err) {
      error.textContent = describe(err);
    } finally {
      button.disabled = false;
    }
  };

  const update = (detail, history, refresh) => {
    current = detail;
    refreshPage = refresh;
    const { patch } = detail;
    title.textContent = patch.name;
    const fact = (label, value) => h('div', {}, h('span', { text: label }), value ?? h('span', { class: 'muted', text: '—' }));
    const link = (pid, testid) =>
      pid ? h('a', { href: `#/patches/${pid}`, 'data-testid': testid, text: pid.slice(0, 8) }) : null;
    facts.replaceChildren(
      fact('Status', badge(patch.status, 'patch-status')),
      fact('Product', patch.product),
      fact('Version', h('div', { 'data-testid': 'patch-version', text: String(patch.version) })),
      fact('Jira', patch.jiraKey),
      fact('Git ref', patch.gitRef),
      fact('Predecessor', link(patch.predecessorId, 'predecessor')),
      fact('Successor', link(detail.successorId, 'successor')),
      fact('Updated', time(patch.updatedAt)),
    );

    // Failed or dead-lettered executions of this page's history (the list API has no such data).
    const failed = history.entries.flatMap((e) =>
      e.executions.filter((x) => x.status === 'failed' || x.deadLettered).map((x) => `${e.action} · ${x.workflow}`),
    );
    failures.hidden = failed.length === 0;
    failures.textContent = `${failed.length} failed`;
    failures.title = failed.join('\n');

    const key = `${patch.version}|${detail.actionsForCaller.join(',')}`;
    if (key !== buttonsKey) {
      buttonsKey = key;
      buttons.replaceChildren(
        ...detail.actionsForCaller.map((name) => {
          const def = lifecycle.actions.find((a) => a.name === name);
          const button = h('button', {
            type: 'button',
            'data-testid': `action-${name}`,
            'data-action': name,
            text: def?.label ?? name,
          });
          button.addEventListener('click', () => void take(name, button));
          return button;
        }),
      );
    }
    noActions.hidden = detail.actionsForCaller.length > 0;
    noActions.textContent = detail.allowedActions.length
      ? `Your role (${session.role}) may take none of the actions allowed now.`
      : 'No actions: the patch is in a final status.';
    const needing = detail.actionsForCaller
      .map((n) => lifecycle.actions.find((a) => a.name === n))
      .filter((a) => a?.requiredFields.includes('reason'));
    // Always there while an action may be taken (every transition records its reason), so that a
    // status change by someone else never hides the field being typed in.
    reason.hidden = detail.actionsForCaller.length === 0;
    reason.placeholder = needing.length
      ? `reason (required for ${needing.map((a) => a.label ?? a.name).join(', ')})`
      : 'reason (optional)';
  };
  return { card, update };
}

function renderTimeline(list, history) {
  if (history.entries.length === 0) {
    list.replaceChildren(h('li', { class: 'muted', text: 'No transitions yet. Take an action above.' }));
    return;
  }
  list.replaceChildren(
    ...[...history.entries].reverse().map((entry) => {
      const t = entry.transition;
      const title = t
        ? h(
            'div',
            { class: 'transition-title' },
            `${t.action}: `,
            badge(t.fromStatus),
            ' → ',
            badge(t.toStatus),
            h('span', { class: 'muted', text: ` by ${t.actor}, ${time(t.createdAt)}${t.reason ? ` — “${t.reason}”` : ''}` }),
          )
        : h('div', { class: 'transition-title', text: `${entry.action} (transition not yet known)` });
      // Workflows that are not configured say so once per transition, quietly; the rest show in full.
      const quiet = entry.executions.filter(isNotConfigured);
      const executions = entry.executions
        .filter((e) => !isNotConfigured(e))
        .map((e) =>
          h(
            'div',
            { class: 'execution', 'data-testid': `execution-${entry.action}-${e.workflow}`, 'data-status': e.status },
            h('header', {}, h('span', { text: e.workflow }), badge(e.status)),
            h('div', {
              class: 'muted',
              text: `attempts: ${e.attempts}${e.willRetry ? ' · retrying' : ''}${e.deadLettered ? ' · dead-lettered' : ''}`,
            }),
            e.lastError ? h('div', { class: 'error', text: `last error: ${e.lastError}` }) : '',
            e.steps.length
              ? h(
                  'ol',
                  {},
                  e.steps.map((s) =>
                    h(
                      'li',
                      { 'data-testid': 'step' },
                      h('div', {
                        class: 'step-type',
                        title: s.subactionType,
                        'data-step': s.subactionType,
                        text: stepLabel(s.subactionType),
                      }),
                      h('div', { text: s.message }),
                      h('div', { class: 'muted', text: `${time(s.at)}${s.attempt > 1 ? ` · attempt ${s.attempt}` : ''}` }),
                    ),
                  ),
                )
              : '',
          ),
        );
      const quietLine = quiet.length
        ? h('div', {
            class: 'muted quiet',
            'data-testid': `not-configured-${entry.action}`,
            title: quiet.map((e) => `${e.workflow}: ${e.steps[0].message}`).join('\n'),
            text: `skipped, not configured: ${quiet.map((e) => e.workflow).join(', ')}`,
          })
        : '';
      return h(
        'li',
        { 'data-testid': `entry-${entry.action}` },
        title,
        executions.length ? h('div', { class: 'executions' }, executions) : '',
        quietLine,
      );
    }),
  );
}

/** An execution that only logged "skipped: not configured (…)" (no credentials for that workflow). */
function isNotConfigured(e) {
  return e.status === 'skipped' && e.steps.length > 0 && e.steps.every((s) => s.message.startsWith('skipped: not configured'));
}

/** `patch.workflow.startDeployment.createSuccessor` → "create successor" (the raw id is the tooltip). */
function stepLabel(subactionType) {
  const last = subactionType.split('.').pop() ?? subactionType;
  return last.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
}

function describe(err) {
  const e = err?.body?.error;
  if (!e) return err.message;
  // validation_failed messages already name each field ("invalid request: reason: required for
  // cancel"): a field problem is added only when the message does not say it yet.
  const fields = e.details?.fields
    ?.map((f) => `${f.path}: ${f.message}`)
    .filter((f) => !e.message.includes(f))
    .join('; ');
  const allowed = e.details?.allowedActions ? ` (allowed now: ${e.details.allowedActions.join(', ') || 'none'})` : '';
  return `${e.message}${fields ? ` — ${fields}` : ''}${allowed}`;
}

function showError(err) {
  if (err instanceof ApiError && err.status === 401) return;
  view.prepend(h('p', { class: 'error', role: 'alert', text: describe(err) }));
}

$('#login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  void login($('#token').value.trim());
});
$('#logout').addEventListener('click', () => logout());
window.addEventListener('hashchange', route);
const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) void login(saved);
else logout();
