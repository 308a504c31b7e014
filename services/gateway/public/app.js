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
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) node.append(c instanceof Node ? c : String(c));
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
    headers: { authorization: `Bearer ${token}`, ...(options.body ? { 'content-type': 'application/json' } : {}), ...options.headers },
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
    if (!(err instanceof ApiError && err.status === 401)) $('#login-error').textContent = err instanceof Error ? err.message : String(err);
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
  const status = h('select', { name: 'status', 'data-testid': 'filter-status' }, h('option', { value: '', text: 'any status' }),
    lifecycle.statuses.map((s) => h('option', { value: s.name, text: s.label, selected: params.get('status') === s.name })));
  const product = h('input', { name: 'product', placeholder: 'product', value: params.get('product') ?? '', 'data-testid': 'filter-product' });
  const filters = h('form', { class: 'inline', onsubmit: (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    if (status.value) q.set('status', status.value);
    if (product.value.trim()) q.set('product', product.value.trim());
    location.hash = `#/?${q}`;
  } }, status, product, h('button', { type: 'submit', class: 'secondary', text: 'Filter' }));

  const rows = h('tbody');
  const table = h('table', { 'data-testid': 'patch-list' },
    h('thead', {}, h('tr', {}, ['Patch', 'Product', 'Status', 'Version', 'Updated'].map((t) => h('th', { text: t })))), rows);
  const more = h('button', { type: 'button', class: 'secondary', hidden: true, text: 'More' });
  let cursor;
  const load = async () => {
    const q = new URLSearchParams({ limit: '50' });
    for (const k of ['status', 'product']) if (params.get(k)) q.set(k, params.get(k));
    if (cursor) q.set('cursor', cursor);
    const page = await api(`/api/patches?${q}`);
    for (const p of page.items) {
      rows.append(h('tr', {}, h('td', {}, h('a', { href: `#/patches/${p.id}`, text: p.name })), h('td', { text: p.product }),
        h('td', {}, badge(p.status)), h('td', { text: p.version }), h('td', { class: 'muted', text: time(p.updatedAt) })));
    }
    if (rows.children.length === 0) rows.append(h('tr', {}, h('td', { colspan: 5, class: 'muted', text: 'No patches match.' })));
    cursor = page.nextCursor;
    more.hidden = !cursor;
  };
  more.addEventListener('click', () => void load());

  view.replaceChildren(h('h1', { text: 'Patches' }), session.role === 'viewer' ? '' : createForm(), h('div', { class: 'card' }, filters), table, more);
  await load().catch(showError);
}

function createForm() {
  const error = h('p', { class: 'error', role: 'alert' });
  const field = (name, placeholder, required) => h('input', { name, placeholder, required, 'data-testid': `new-${name}` });
  const form = h('form', { class: 'inline', onsubmit: async (e) => {
    e.preventDefault();
    const data = Object.fromEntries([...new FormData(form)].filter(([, v]) => String(v).trim() !== ''));
    try {
      const { patch } = await api('/api/patches', { method: 'POST', body: JSON.stringify(data) });
      location.hash = `#/patches/${patch.id}`;
    } catch (err) {
      error.textContent = describe(err);
    }
  } }, field('name', 'name, e.g. payments 2026.48.1', true), field('product', 'product, e.g. payments', true),
  field('jiraKey', 'Jira key (optional)'), field('gitRef', 'git ref (optional)'), h('button', { type: 'submit', 'data-testid': 'create-patch', text: 'Create patch' }));
  return h('div', { class: 'card' }, h('h2', { text: 'New patch', class: 'flush' }), form, error);
}

// ---- the patch page -------------------------------------------------------------------------

async function showPatch(id) {
  const header = h('div', { class: 'card' });
  const diagram = h('div', { class: 'card diagram' });
  const timeline = h('ol', { class: 'timeline', 'data-testid': 'timeline' });
  const live = h('span', { class: 'live off', 'data-testid': 'live', text: 'connecting…' });
  view.replaceChildren(h('p', {}, h('a', { href: '#/', text: '← all patches' })), header,
    h('h2', { text: 'Lifecycle' }), diagram, h('h2', {}, 'History ', live), timeline);

  let pending;
  // Fetches can overlap (a click and a live ping): only a newer fetch may replace what is shown.
  let started = 0;
  let shown = 0;
  const refresh = async () => {
    const mine = ++started;
    const [detail, history] = await Promise.all([api(`/api/patches/${id}`), api(`/api/patches/${id}/history?limit=200`)]);
    if (mine < shown) return;
    shown = mine;
    renderHeader(header, detail, refresh);
    diagram.replaceChildren(renderLifecycle(lifecycle, detail.patch.status));
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

function renderHeader(card, detail, refresh) {
  const { patch } = detail;
  const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'action-error' });
  const reason = h('input', { name: 'reason', placeholder: 'reason (required for some actions)', 'data-testid': 'reason' });
  const buttons = detail.actionsForCaller.map((name) => {
    const def = lifecycle.actions.find((a) => a.name === name);
    return h('button', { type: 'button', 'data-testid': `action-${name}`, 'data-action': name, text: def?.label ?? name, onclick: async (e) => {
      e.target.disabled = true;
      try {
        const body = { action: name, expectedVersion: patch.version };
        if (reason.value.trim()) body.reason = reason.value.trim();
        await api(`/api/patches/${patch.id}/transitions`, { method: 'POST', body: JSON.stringify(body) });
        await refresh();
      } catch (err) {
        error.textContent = describe(err);
        e.target.disabled = false;
      }
    } });
  });
  const needsReason = detail.actionsForCaller.some((n) => lifecycle.actions.find((a) => a.name === n)?.requiredFields.includes('reason'));
  const fact = (label, value) => h('div', {}, h('span', { text: label }), value ?? h('span', { class: 'muted', text: '—' }));
  const link = (pid, testid) => (pid ? h('a', { href: `#/patches/${pid}`, 'data-testid': testid, text: pid.slice(0, 8) }) : null);
  card.replaceChildren(
    h('h1', { 'data-testid': 'patch-name', text: patch.name, class: 'flush' }),
    h('div', { class: 'facts' },
      fact('Status', badge(patch.status, 'patch-status')), fact('Product', patch.product), fact('Version', String(patch.version)),
      fact('Jira', patch.jiraKey), fact('Git ref', patch.gitRef), fact('Predecessor', link(patch.predecessorId, 'predecessor')),
      fact('Successor', link(detail.successorId, 'successor')), fact('Updated', time(patch.updatedAt))),
    h('div', { class: 'actions', 'data-testid': 'actions' },
      buttons.length ? buttons : h('span', { class: 'muted', text: detail.allowedActions.length ? `Your role (${session.role}) may take none of the actions allowed now.` : 'No actions: the patch is in a final status.' }),
      needsReason ? reason : ''),
    error,
  );
}

function renderTimeline(list, history) {
  if (history.entries.length === 0) {
    list.replaceChildren(h('li', { class: 'muted', text: 'No transitions yet. Take an action above.' }));
    return;
  }
  list.replaceChildren(...[...history.entries].reverse().map((entry) => {
    const t = entry.transition;
    const title = t
      ? h('div', { class: 'transition-title' }, `${t.action}: `, badge(t.fromStatus), ' → ', badge(t.toStatus),
        h('span', { class: 'muted', text: ` by ${t.actor}, ${time(t.createdAt)}${t.reason ? ` — “${t.reason}”` : ''}` }))
      : h('div', { class: 'transition-title', text: `${entry.action} (transition not yet known)` });
    const executions = entry.executions.map((e) => h('div', { class: 'execution', 'data-testid': `execution-${entry.action}-${e.workflow}`, 'data-status': e.status },
      h('header', {}, h('span', { text: e.workflow }), badge(e.status)),
      h('div', { class: 'muted', text: `attempts: ${e.attempts}${e.willRetry ? ' · retrying' : ''}${e.deadLettered ? ' · dead-lettered' : ''}` }),
      e.lastError ? h('div', { class: 'error', text: `last error: ${e.lastError}` }) : '',
      e.steps.length ? h('ol', {}, e.steps.map((s) => h('li', { 'data-testid': 'step' },
        h('div', { class: 'step-type', text: s.subactionType }), h('div', { text: s.message }),
        h('div', { class: 'muted', text: `${time(s.at)}${s.attempt > 1 ? ` · attempt ${s.attempt}` : ''}` })))) : ''));
    return h('li', { 'data-testid': `entry-${entry.action}` }, title, h('div', { class: 'executions' }, executions));
  }));
}

function describe(err) {
  const e = err?.body?.error;
  if (!e) return err.message;
  const fields = e.details?.fields?.map((f) => `${f.path}: ${f.message}`).join('; ');
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
