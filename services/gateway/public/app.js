// The Action History UI: a patch list, a patch page with its lifecycle, the actions allowed now,
// whether the effects of each transition have settled and a live timeline of its workflows, and
// the operators' "Needs attention" page. Plain DOM; every value is set as text, never HTML.
import { renderLifecycle } from './lifecycle-diagram.js';

const TOKEN_KEY = 'patchflow.token';
const $ = (sel) => document.querySelector(sel);
const view = $('#view');
let lifecycle;
let session;
let liveSource;
/** How soon a refused live stream is asked for again. */
const LIVE_RETRY_MS = 3000;

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
const clock = (iso) => (iso ? new Date(iso).toLocaleTimeString() : '');
const statusLabel = (name) => lifecycle.statuses.find((s) => s.name === name)?.label ?? name;
const actionDef = (name) => lifecycle.actions.find((a) => a.name === name);
const mayRepair = () => session.role === 'operator' || session.role === 'admin';

/** 850 → "850 ms", 1234 → "1.2 s", 185000 → "3 min 5 s", then hours and days. */
function duration(ms) {
  if (ms === null || ms === undefined) return '';
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 59.95) return `${s.toFixed(1).replace(/\.0$/, '')} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min ${Math.floor(s % 60)} s`;
  const hours = Math.floor(min / 60);
  if (hours < 24) return `${hours} h ${min % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** A link the API reported, as a real link only when it is http(s); anything else stays text. */
function webLink(label, url, testid) {
  let safe = false;
  try {
    safe = ['http:', 'https:'].includes(new URL(url).protocol);
  } catch {
    safe = false;
  }
  return safe
    ? h('a', { href: url, rel: 'noopener noreferrer', target: '_blank', 'data-testid': testid, text: label })
    : h('span', { 'data-testid': testid, text: label });
}

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
  liveSource = undefined;
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
  $('#nav-attention').hidden = !mayRepair();
  $('#whoami').textContent = `${session.name} (${session.role})`;
  route();
}

function route() {
  if (!session) return;
  liveSource?.close();
  liveSource = undefined;
  const match = /^#\/patches\/([0-9a-f-]{36})$/.exec(location.hash);
  const attention = location.hash.startsWith('#/attention');
  for (const a of document.querySelectorAll('nav a')) {
    const here = attention ? a.getAttribute('href') === '#/attention' : !match && a.getAttribute('href') === '#/';
    if (here) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (match) void showPatch(match[1]);
  else if (attention) void showAttention();
  else void showList();
}

// ---- the confirmation dialog ------------------------------------------------------------------

let dialog;

/**
 * An in-page dialog (`<dialog>`, modal): resolves to `{ reason }` when confirmed, null when
 * dismissed (Back, Escape). With `reason` it asks for one, optional or required (confirm stays
 * disabled until one is typed).
 */
function ask({ title, message, confirm, danger = false, reason = undefined }) {
  dialog?.remove();
  return new Promise((resolve) => {
    const input = reason
      ? h('input', {
          name: 'dialog-reason',
          'data-testid': 'dialog-reason',
          autocomplete: 'off',
          placeholder: reason.required ? 'reason (required)' : 'reason (optional)',
          'aria-label': 'reason',
        })
      : null;
    const yes = h('button', { type: 'submit', class: danger ? 'danger' : '', 'data-testid': 'dialog-confirm', text: confirm });
    const no = h('button', { type: 'button', class: 'secondary', 'data-testid': 'dialog-cancel', text: 'Back' });
    const sync = () => (yes.disabled = Boolean(reason?.required) && !input.value.trim());
    input?.addEventListener('input', sync);
    sync();
    const form = h(
      'form',
      {
        onsubmit: (e) => {
          e.preventDefault();
          if (yes.disabled) return;
          resolve({ reason: input?.value.trim() ?? '' });
          dialog.close();
        },
      },
      h('h2', { class: 'flush', 'data-testid': 'dialog-title', text: title }),
      h('p', { 'data-testid': 'dialog-message', text: message }),
      input,
      h('div', { class: 'dialog-buttons' }, no, yes),
    );
    dialog = h('dialog', { 'data-testid': 'dialog', 'aria-label': title }, form);
    no.addEventListener('click', () => dialog.close());
    // Escape or Back: nothing happens (after a confirm the promise is already resolved).
    dialog.addEventListener('close', () => resolve(null));
    document.body.append(dialog);
    dialog.showModal();
    (input ?? no).focus();
  });
}

// ---- errors -----------------------------------------------------------------------------------

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

/**
 * Marks the inputs a 400 names (`details.fields[].path`, e.g. `jiraKey`) as invalid, with the
 * problem as their tooltip, and focuses the first; every other input of `inputs` is cleared.
 */
function markInvalid(err, inputs) {
  for (const input of Object.values(inputs)) {
    input.removeAttribute('aria-invalid');
    input.removeAttribute('title');
  }
  let first;
  for (const f of err?.body?.error?.details?.fields ?? []) {
    const input = String(f.path)
      .split('.')
      .map((part) => inputs[part])
      .find(Boolean);
    if (!input) continue;
    input.setAttribute('aria-invalid', 'true');
    input.title = f.message;
    first ??= input;
  }
  first?.focus();
}

function clearInvalidOnInput(input) {
  input.addEventListener('input', () => input.removeAttribute('aria-invalid'));
  return input;
}

function showError(err) {
  if (err instanceof ApiError && err.status === 401) return;
  view.prepend(h('p', { class: 'error', role: 'alert', text: describe(err) }));
}

// ---- the patch list ----------------------------------------------------------------------

async function showList() {
  const params = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const status = h(
    'select',
    { name: 'status', 'aria-label': 'status', 'data-testid': 'filter-status' },
    h('option', { value: '', text: 'any status' }),
    lifecycle.statuses.map((s) => h('option', { value: s.name, text: s.label, selected: params.get('status') === s.name })),
  );
  const product = h('input', {
    name: 'product',
    placeholder: 'product',
    'aria-label': 'product',
    value: params.get('product') ?? '',
    'data-testid': 'filter-product',
  });
  const search = h('input', {
    type: 'search',
    name: 'q',
    placeholder: 'search names',
    'aria-label': 'search by name',
    value: params.get('q') ?? '',
    'data-testid': 'filter-name',
  });
  const failing = h('input', { type: 'checkbox', name: 'hasFailures', checked: params.get('hasFailures') === 'true' });
  const sort = h(
    'select',
    { name: 'sort', 'aria-label': 'sort by', 'data-testid': 'sort' },
    h('option', { value: 'updated', text: 'last updated first' }),
    h('option', { value: 'created', text: 'newest first', selected: params.get('sort') === 'created' }),
  );
  const filters = h(
    'form',
    {
      class: 'inline filters',
      onsubmit: (e) => {
        e.preventDefault();
        apply();
      },
    },
    search,
    status,
    product,
    h('label', { class: 'check', 'data-testid': 'filter-failures' }, failing, ' has failures'),
    sort,
  );

  const sortHeader = h('th', { 'data-testid': 'sort-column' });
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
        h('th', { text: 'Patch' }),
        h('th', { class: 'wide-only', text: 'Product' }),
        h('th', { text: 'Status' }),
        h('th', { class: 'wide-only', text: 'Version' }),
        sortHeader,
      ),
    ),
    rows,
  );
  const empty = h('p', { class: 'muted', hidden: true, 'data-testid': 'list-empty' });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true, text: 'More' });

  /** The filters as the API's query (and the page's address): only what is set. */
  const query = () => {
    const q = new URLSearchParams();
    if (search.value.trim()) q.set('q', search.value.trim());
    if (status.value) q.set('status', status.value);
    if (product.value.trim()) q.set('product', product.value.trim());
    if (failing.checked) q.set('hasFailures', 'true');
    if (sort.value !== 'updated') q.set('sort', sort.value);
    return q;
  };
  let cursor;
  // Loads can overlap (typing while a page arrives): only the latest filter's rows are shown.
  let generation = 0;
  const load = async (reset) => {
    const mine = reset ? ++generation : generation;
    const q = query();
    q.set('limit', '50');
    if (!reset && cursor) q.set('cursor', cursor);
    const byCreation = sort.value === 'created';
    const page = await api(`/api/patches?${q}`);
    if (mine !== generation) return;
    sortHeader.textContent = byCreation ? 'Created ↓' : 'Updated ↓';
    const made = page.items.map((p) =>
      h(
        'tr',
        { 'data-name': p.name, 'data-testid': 'patch-row' },
        h(
          'td',
          {},
          h('a', { href: `#/patches/${p.id}`, text: p.name }),
          p.failures > 0
            ? h('span', {
                class: 'badge failed row-badge',
                'data-testid': 'row-failures',
                title: 'open failed or dead-lettered executions',
                text: `${p.failures} failed`,
              })
            : '',
        ),
        h('td', { class: 'wide-only', text: p.product }),
        h('td', {}, badge(p.status)),
        h('td', { class: 'wide-only', text: p.version }),
        h('td', {
          class: 'muted',
          title: byCreation ? `updated ${time(p.updatedAt)}` : `created ${time(p.createdAt)}`,
          text: time(byCreation ? p.createdAt : p.updatedAt),
        }),
      ),
    );
    if (reset) rows.replaceChildren(...made);
    else rows.append(...made);
    cursor = page.nextCursor;
    more.hidden = !cursor;
    empty.hidden = rows.children.length > 0;
    empty.textContent = failing.checked && !search.value.trim() ? 'No patch has open failures.' : 'No patches match.';
  };
  const apply = () => {
    clearTimeout(typing);
    // The address keeps the filters (a reload or a shared link shows the same list) without a
    // hashchange, which would rebuild the page and take the focus from the search box.
    const q = query().toString();
    history.replaceState(null, '', q ? `#/?${q}` : '#/');
    load(true).catch(showError);
  };
  // Typing asks the server once the typist pauses, not on every key.
  let typing;
  const debounced = () => {
    clearTimeout(typing);
    typing = setTimeout(apply, 300);
  };
  search.addEventListener('input', debounced);
  product.addEventListener('input', debounced);
  for (const control of [status, failing, sort]) control.addEventListener('change', apply);
  more.addEventListener('click', () => void load(false).catch(showError));

  view.replaceChildren(
    h('h1', { text: 'Patches' }),
    session.role === 'viewer' ? '' : createForm(),
    h('div', { class: 'card' }, filters),
    h('div', { class: 'scroll-x' }, table),
    empty,
    more,
  );
  await load(true).catch(showError);
}

function createForm() {
  const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'create-error' });
  const inputs = {};
  const field = (name, placeholder, required) =>
    (inputs[name] = clearInvalidOnInput(
      h('input', { name, placeholder, 'aria-label': placeholder, required, 'data-testid': `new-${name}` }),
    ));
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
          error.replaceChildren(describe(err));
          const body = err instanceof ApiError ? err.body?.error : undefined;
          const existing = body?.code === 'duplicate_patch' ? body.details?.existingId : undefined;
          if (existing)
            error.append(' ', h('a', { href: `#/patches/${existing}`, 'data-testid': 'existing-patch', text: 'open it' }));
          markInvalid(err, inputs);
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
  const statusTimes = h('div', { class: 'card', 'data-testid': 'time-in-status' });
  const diagram = h('div', { class: 'card diagram', 'data-testid': 'diagram' });
  let diagramStatus;
  const timeline = h('ol', { class: 'timeline', 'data-testid': 'timeline' });
  const live = h('span', { class: 'live off', 'data-testid': 'live', text: 'connecting…' });
  view.replaceChildren(
    h('p', {}, h('a', { href: '#/', text: '← all patches' })),
    header.card,
    h('h2', { text: 'Time in status' }),
    statusTimes,
    h('h2', { text: 'Lifecycle' }),
    diagram,
    h('h2', {}, 'History ', live),
    timeline,
  );

  let pending;
  // Fetches can overlap (a click and a live ping): only a newer fetch may replace what is shown.
  let started = 0;
  let shown = 0;
  // What the timeline's rebuilds must keep: which <details> are open, each repair's last outcome.
  const page = { open: new Set(), repairs: new Map(), refresh: undefined, detail: undefined };
  const refresh = async () => {
    const mine = ++started;
    const [detail, history] = await Promise.all([api(`/api/patches/${id}`), api(`/api/patches/${id}/history?limit=200`)]);
    if (mine < shown) return;
    shown = mine;
    page.detail = detail;
    // Only what changed is replaced: a reason being typed keeps its text and focus.
    header.update(detail, history, refresh);
    renderTimeInStatus(statusTimes, history.timeInStatus);
    if (diagramStatus !== detail.patch.status) {
      diagramStatus = detail.patch.status;
      diagram.replaceChildren(renderLifecycle(lifecycle, detail.patch.status));
    }
    renderTimeline(timeline, history, page);
  };
  page.refresh = refresh;
  // Every ping means "something changed": refetch, at most one fetch in flight plus one queued.
  const schedule = () => {
    if (pending) return;
    pending = setTimeout(() => {
      pending = undefined;
      refresh().catch(showError);
    }, 100);
  };
  await refresh().catch(showError);
  const connect = () => {
    const source = new EventSource(
      `/api/patches/${id}/events?access_token=${encodeURIComponent(sessionStorage.getItem(TOKEN_KEY))}`,
    );
    liveSource = source;
    source.addEventListener('ready', () => {
      live.className = 'live';
      live.textContent = '● live';
      schedule(); // anything missed while (re)connecting
    });
    source.addEventListener('updated', schedule);
    source.addEventListener('error', () => {
      live.className = 'live off';
      live.textContent = 'reconnecting…';
      // EventSource retries a dropped stream by itself, not a refused one (429: this token's streams
      // are all in use; 503): ask again shortly, unless the page moved on meanwhile.
      if (source.readyState === EventSource.CLOSED)
        setTimeout(() => {
          if (liveSource === source) connect();
        }, LIVE_RETRY_MS);
    });
  };
  connect();
}

/** Actions that ask first: they end or fail what people are waiting for. */
const CONFIRMED_ACTIONS = new Set(['cancel', 'failDeployment']);

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
  const effects = h('div', { class: 'effects', 'data-testid': 'effects', role: 'status' });
  const facts = h('div', { class: 'facts' });
  const buttons = h('span', { class: 'buttons' });
  const noActions = h('span', { class: 'muted' });
  const reason = clearInvalidOnInput(
    h('input', { name: 'reason', 'data-testid': 'reason', autocomplete: 'off', 'aria-label': 'reason' }),
  );
  const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'action-error' });
  const card = h(
    'div',
    { class: 'card' },
    h('div', { class: 'title-row' }, title, failures),
    effects,
    facts,
    h('div', { class: 'actions', 'data-testid': 'actions' }, buttons, noActions, reason),
    error,
  );

  const take = async (name, button) => {
    const def = actionDef(name);
    const typed = reason.value.trim();
    if (CONFIRMED_ACTIONS.has(name)) {
      const to = lifecycle.statuses.find((s) => s.name === def?.to);
      const answer = await ask({
        title: `${def?.label ?? name}?`,
        message:
          `${current.patch.name} moves from ${statusLabel(current.patch.status)} to ${to?.label ?? def?.to}` +
          `${to?.terminal ? ', a final status' : ''}, and the workflows act on it. ` +
          (typed ? `Reason: “${typed}”.` : 'No reason given.'),
        confirm: def?.label ?? name,
        danger: true,
      });
      if (!answer) return;
    }
    button.disabled = true;
    error.textContent = '';
    try {
      const body = { action: name, expectedVersion: current.patch.version };
      if (reason.value.trim()) body.reason = reason.value.trim();
      await api(`/api/patches/${current.patch.id}/transitions`, { method: 'POST', body: JSON.stringify(body) });
      reason.value = '';
      markInvalid(undefined, { reason });
      await refreshPage();
    } catch (err) {
      error.textContent = describe(err);
      markInvalid(err, { reason });
    } finally {
      button.disabled = false;
    }
  };

  const update = (detail, history, refresh) => {
    current = detail;
    refreshPage = refresh;
    const { patch } = detail;
    title.textContent = patch.name;
    const fact = (label, value, testid) =>
      h('div', { 'data-testid': testid }, h('span', { text: label }), value ?? h('span', { class: 'muted', text: '—' }));
    const patchLink = (ref, testid) =>
      ref ? h('a', { href: `#/patches/${ref.id}`, 'data-testid': testid, text: ref.name }) : null;
    // The Jira issue is a link once the jira workflow has reported where it lives.
    const jiraLink = history.entries
      .flatMap((e) => e.executions.flatMap((x) => x.links ?? []))
      .find((l) => l.label === patch.jiraKey);
    facts.replaceChildren(
      fact('Status', badge(patch.status, 'patch-status')),
      fact('Product', patch.product),
      fact('Version', h('div', { 'data-testid': 'patch-version', text: String(patch.version) })),
      fact('Jira', patch.jiraKey && jiraLink ? webLink(patch.jiraKey, jiraLink.url, 'jira-link') : patch.jiraKey),
      fact('Git ref', patch.gitRef),
      fact('Predecessor', patchLink(detail.predecessor, 'predecessor')),
      fact('Successor', patchLink(detail.successor, 'successor')),
      fact('Created', h('div', { 'data-testid': 'created', text: `by ${patch.createdBy}, ${time(patch.createdAt)}` })),
      fact('Updated', time(patch.updatedAt)),
    );

    // The whole patch, across every transition (not only those on this page).
    const fx = history.effects;
    const refs = (list) => list.map((r) => `${r.workflow} (${actionDef(r.action)?.label ?? r.action})`).join(', ');
    failures.hidden = fx.failed.length === 0;
    failures.textContent = `${fx.failed.length} failed`;
    failures.title = fx.failed.map((r) => `${r.action} · ${r.workflow}`).join('\n');
    effects.dataset.state = fx.state;
    effects.className = `effects ${fx.state}`;
    const last = history.entries.at(-1);
    if (history.entries.length === 0) effects.textContent = 'No transitions yet: nothing to run.';
    else if (fx.state === 'settled')
      effects.textContent = `All effects settled${last?.settleMs != null ? ` · the last transition settled in ${duration(last.settleMs)}` : ''}`;
    else
      effects.textContent = [
        fx.running.length ? `Still running: ${refs(fx.running)}` : '',
        fx.failed.length ? `Failed: ${refs(fx.failed)}` : '',
      ]
        .filter(Boolean)
        .join(' · ');

    const key = `${patch.version}|${detail.actionsForCaller.join(',')}`;
    if (key !== buttonsKey) {
      buttonsKey = key;
      buttons.replaceChildren(
        ...detail.actionsForCaller.map((name) => {
          const def = actionDef(name);
          const button = h('button', {
            type: 'button',
            class: CONFIRMED_ACTIONS.has(name) ? 'danger' : '',
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
    const needing = detail.actionsForCaller.map(actionDef).filter((a) => a?.requiredFields.includes('reason'));
    // Always there while an action may be taken (every transition records its reason), so that a
    // status change by someone else never hides the field being typed in.
    reason.hidden = detail.actionsForCaller.length === 0;
    reason.placeholder = needing.length
      ? `reason (required for ${needing.map((a) => a.label ?? a.name).join(', ')})`
      : 'reason (optional)';
  };
  return { card, update };
}

/** Time in each status, oldest first: a bar with one segment per stay, and the stays as rows. */
function renderTimeInStatus(card, spans) {
  if (!spans?.length) {
    card.replaceChildren(h('p', { class: 'muted flush', text: 'No status history yet.' }));
    return;
  }
  const label = (s) => `${statusLabel(s.status)}: ${duration(s.durationMs)}${s.leftAt ? '' : ' so far'}`;
  const bar = h(
    'div',
    { class: 'status-bar', 'aria-hidden': 'true' },
    spans.map((s) => {
      const segment = h('span', { class: `segment ${s.status}`, title: label(s) });
      // CSSOM, not a style attribute: the page's CSP allows no inline styles.
      segment.style.flexGrow = String(Math.max(s.durationMs, 1));
      return segment;
    }),
  );
  const rows = spans.map((s) =>
    h(
      'tr',
      { 'data-testid': 'status-span', 'data-status': s.status },
      h('td', {}, badge(s.status)),
      h('td', { class: 'muted', text: time(s.enteredAt) }),
      h('td', { text: `${duration(s.durationMs)}${s.leftAt ? '' : ' so far'}` }),
    ),
  );
  card.replaceChildren(
    bar,
    h(
      'table',
      { class: 'compact' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Status', 'Entered', 'Time'].map((t) => h('th', { text: t })),
        ),
      ),
      h('tbody', {}, rows),
    ),
  );
}

/** "all effects settled in 1.2 s" / "running: jira, gitlab" / "failed: jira". */
function settleText(entry) {
  if (entry.effects === 'running') return `running: ${entry.running.join(', ')}`;
  if (entry.effects === 'failed') return `failed: ${entry.failed.join(', ')}`;
  return entry.settleMs != null ? `all effects settled in ${duration(entry.settleMs)}` : 'all effects settled';
}

function renderTimeline(list, history, page) {
  if (history.entries.length === 0) {
    list.replaceChildren(h('li', { class: 'muted', text: 'No transitions yet. Take an action above.' }));
    return;
  }
  list.replaceChildren(
    ...[...history.entries].reverse().map((entry) => {
      const t = entry.transition;
      const title = h(
        'div',
        { class: 'transition-title' },
        `${t.action}: `,
        badge(t.fromStatus),
        ' → ',
        badge(t.toStatus),
        h('span', { class: 'muted', text: ` by ${t.actor}, ${time(t.createdAt)}${t.reason ? ` — “${t.reason}”` : ''}` }),
      );
      const settle = h('div', {
        class: `settle ${entry.effects}`,
        'data-testid': 'settle',
        'data-state': entry.effects,
        title: entry.settledAt ? `settled at ${time(entry.settledAt)}` : 'not settled yet',
        text: settleText(entry),
      });
      // Skipped executions (not configured, superseded…) fold into one line; the rest show in full.
      const skipped = entry.executions.filter((e) => e.status === 'skipped');
      const executions = entry.executions.filter((e) => e.status !== 'skipped').map((e) => executionCard(entry, e, page));
      return h(
        'li',
        { 'data-testid': `entry-${entry.action}`, 'data-work-id': entry.workId, class: entry.effects },
        title,
        settle,
        executions.length ? h('div', { class: 'executions' }, executions) : '',
        skipped.length ? skippedLine(entry, skipped, page) : '',
      );
    }),
  );
}

/** A `<details>` that stays open through the timeline's rebuilds. */
function keptOpen(page, key, attrs, summary, ...body) {
  const details = h('details', { ...attrs, open: page.open.has(key) }, summary, ...body);
  // Noted on the click itself (before it toggles), so a rebuild right after keeps what was asked.
  summary.addEventListener('click', () => (details.open ? page.open.delete(key) : page.open.add(key)));
  return details;
}

/** Why a skipped execution skipped: its last step's message, without the "skipped: " in front. */
const skipReason = (e) => (e.steps.at(-1)?.message ?? 'skipped').replace(/^skipped:\s*/, '');

function skippedLine(entry, skipped, page) {
  const key = `skipped/${entry.workId}`;
  return keptOpen(
    page,
    key,
    { class: 'quiet', 'data-testid': `skipped-${entry.action}` },
    h('summary', {
      title: skipped.map((e) => `${e.workflow}: ${skipReason(e)}`).join('\n'),
      text: `skipped: ${skipped.map((e) => e.workflow).join(', ')}`,
    }),
    h(
      'ul',
      {},
      skipped.map((e) =>
        h(
          'li',
          { 'data-testid': `skipped-${entry.action}-${e.workflow}` },
          `${e.workflow}: ${skipReason(e)}`,
          repairControls(entry, e, page),
        ),
      ),
    ),
  );
}

function executionCard(entry, e, page) {
  const facts = [
    e.durationMs != null ? duration(e.durationMs) : e.status === 'pending' ? 'not started' : 'running…',
    `${e.attempts} attempt${e.attempts === 1 ? '' : 's'}`,
    e.willRetry ? 'retrying' : '',
    e.deadLettered ? 'dead-lettered' : '',
  ].filter(Boolean);
  const attempts = e.attemptList ?? [];
  return h(
    'div',
    { class: 'execution', 'data-testid': `execution-${entry.action}-${e.workflow}`, 'data-status': e.status },
    h('header', {}, h('span', { text: e.workflow }), badge(e.status)),
    h('div', { class: 'muted', 'data-testid': 'execution-facts', text: facts.join(' · ') }),
    e.links?.length
      ? h(
          'div',
          { class: 'links' },
          e.links.map((l) => webLink(l.label, l.url, 'execution-link')),
        )
      : '',
    e.lastError ? h('div', { class: 'error', text: `last error: ${e.lastError}` }) : '',
    attempts.length
      ? keptOpen(
          page,
          `attempts/${entry.workId}/${e.workflow}`,
          { class: 'attempts', 'data-testid': 'attempts' },
          h('summary', { text: `attempts (${attempts.length})` }),
          h(
            'ol',
            {},
            attempts.map((a) =>
              h(
                'li',
                { 'data-testid': 'attempt', 'data-outcome': a.outcome },
                h('span', { text: `#${a.attempt} ` }),
                badge(a.outcome),
                h('span', {
                  class: 'muted',
                  text: ` ${clock(a.startedAt)}${
                    a.finishedAt
                      ? ` → ${clock(a.finishedAt)} (${duration(Date.parse(a.finishedAt) - Date.parse(a.startedAt))})`
                      : ' → …'
                  }`,
                }),
                a.error ? h('div', { class: 'error', text: a.error }) : '',
              ),
            ),
          ),
        )
      : '',
    e.steps.length
      ? h(
          'ol',
          { class: 'steps' },
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
    repairControls(entry, e, page),
  );
}

/** Failed for good: no retry of its own is coming (a dead letter included, until it succeeds). */
const isOpenFailure = (e) => (e.status === 'failed' && !e.willRetry) || (e.deadLettered && e.status !== 'succeeded');
const isFinal = (e) => e.status === 'succeeded' || e.status === 'skipped' || isOpenFailure(e);

/**
 * Retry (operator, admin) on an open failure; Replay (admin) on any final execution, with a
 * required reason. The outcome stays on the card through refreshes; the history records the rest.
 */
function repairControls(entry, e, page) {
  if (!mayRepair()) return '';
  const key = `${entry.workId}/${e.workflow}`;
  const kinds = [];
  if (isOpenFailure(e)) kinds.push('retry');
  if (session.role === 'admin' && isFinal(e)) kinds.push('replay');
  const outcome = page.repairs.get(key);
  // No second click while one runs.
  if (outcome?.kind === 'running') kinds.length = 0;
  if (!kinds.length && !outcome) return '';
  return h(
    'div',
    { class: 'repair' },
    kinds.map((kind) =>
      h('button', {
        type: 'button',
        class: 'secondary small',
        'data-testid': `${kind}-${e.workflow}`,
        text: kind === 'retry' ? 'Retry' : 'Replay',
        onclick: (ev) => void repair(kind, entry, e, page, ev.currentTarget),
      }),
    ),
    outcome
      ? h('div', { class: `repair-outcome ${outcome.kind}`, 'data-testid': 'repair-outcome', role: 'status', text: outcome.text })
      : '',
  );
}

async function repair(kind, entry, e, page, button) {
  const label = actionDef(entry.action)?.label ?? entry.action;
  const answer = await ask(
    kind === 'retry'
      ? {
          title: `Retry ${e.workflow}?`,
          message: `Runs the ${e.workflow} workflow again for “${label}” of ${page.detail.patch.name}.`,
          confirm: 'Retry',
          reason: { required: false },
        }
      : {
          title: `Replay ${e.workflow}?`,
          message: `Runs the ${e.workflow} workflow for “${label}” of ${page.detail.patch.name} once more, as a new attempt, even though it is ${e.status}.`,
          confirm: 'Replay',
          danger: true,
          reason: { required: true },
        },
  );
  if (!answer) return;
  const key = `${entry.workId}/${e.workflow}`;
  button.disabled = true;
  page.repairs.set(key, { kind: 'running', text: kind === 'retry' ? 'retrying…' : 'replaying…' });
  void page.refresh().catch(showError);
  try {
    const { outcome } = await api(`/api/work/${entry.workId}/workflows/${e.workflow}/${kind}`, {
      method: 'POST',
      body: JSON.stringify(answer.reason ? { reason: answer.reason } : {}),
    });
    // retry: succeeded | failed | queued; replay: also skipped, already_succeeded, busy.
    const detail = outcome.error ?? outcome.detail;
    page.repairs.set(key, {
      kind: outcome.status,
      text: `${kind}: ${outcome.status.replace(/_/g, ' ')}${detail ? ` — ${detail}` : ''}`,
    });
  } catch (err) {
    page.repairs.set(key, { kind: 'failed', text: `${kind} refused: ${describe(err)}` });
  } finally {
    button.disabled = false;
  }
  await page.refresh().catch(showError);
}

/** `patch.workflow.startDeployment.createSuccessor` → "create successor" (the raw id is the tooltip). */
function stepLabel(subactionType) {
  const last = subactionType.split('.').pop() ?? subactionType;
  return last.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
}

// ---- needs attention ----------------------------------------------------------------------------

const attentionKinds = { dead_letter: 'dead letter', failed: 'failed', stuck: 'stuck' };

async function showAttention() {
  if (!mayRepair()) {
    view.replaceChildren(
      h('h1', { text: 'Needs attention' }),
      h('p', { class: 'muted', text: `Operators and admins see this page; your role is ${session.role}.` }),
    );
    return;
  }
  const rows = h('tbody');
  const empty = h('p', { class: 'muted', hidden: true, 'data-testid': 'attention-empty', text: 'Nothing needs attention.' });
  const missing = h('p', { class: 'error', role: 'alert', hidden: true, 'data-testid': 'attention-unanswered' });
  const load = async () => {
    const { items, unanswered } = await api('/api/attention');
    missing.hidden = !unanswered?.length;
    missing.textContent = `Not answering, so missing from the list: ${unanswered?.join(', ')}.`;
    rows.replaceChildren(
      ...items.map((item) =>
        h(
          'tr',
          { 'data-testid': 'attention-item', 'data-kind': item.kind, 'data-work-id': item.workId },
          h(
            'td',
            {},
            h('span', {
              class: `badge ${item.kind === 'stuck' ? 'running' : 'failed'}`,
              text: attentionKinds[item.kind] ?? item.kind,
            }),
          ),
          h('td', {}, h('a', { href: `#/patches/${item.patchId}`, text: item.patchName ?? item.patchId.slice(0, 8) })),
          h('td', { text: `${actionDef(item.action)?.label ?? item.action} · ${item.workflow}` }),
          h('td', { class: 'reason-cell', text: item.reason }),
          h('td', {
            class: 'muted',
            title: time(item.since),
            text: `${duration(Math.max(0, Date.now() - Date.parse(item.since)))} ago`,
          }),
          h('td', {}, item.kind === 'stuck' ? '' : attentionRetry(item, load)),
        ),
      ),
    );
    empty.hidden = items.length > 0;
  };
  view.replaceChildren(
    h(
      'h1',
      {},
      'Needs attention ',
      h('button', { type: 'button', class: 'secondary small', text: 'Refresh', onclick: () => void load().catch(showError) }),
    ),
    h(
      'p',
      { class: 'muted' },
      'Dead letters, executions whose last attempt failed, and executions stuck running, across every patch, oldest first. Retry here, or open the patch to see its history.',
    ),
    missing,
    h(
      'div',
      { class: 'scroll-x' },
      h(
        'table',
        { 'data-testid': 'attention-list' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Kind', 'Patch', 'Action · workflow', 'Why', 'Since', ''].map((t) => h('th', { text: t })),
          ),
        ),
        rows,
      ),
    ),
    empty,
  );
  await load().catch(showError);
}

/** Retry from a Needs attention row (the same request as the card's Retry), then reload the list. */
function attentionRetry(item, reload) {
  const outcome = h('div', { class: 'repair-outcome', 'data-testid': 'attention-outcome', role: 'status' });
  const button = h('button', {
    type: 'button',
    class: 'secondary small',
    'data-testid': 'attention-retry',
    text: 'Retry',
    onclick: async () => {
      const label = actionDef(item.action)?.label ?? item.action;
      const answer = await ask({
        title: `Retry ${item.workflow}?`,
        message: `Runs the ${item.workflow} workflow again for “${label}” of ${item.patchName ?? item.patchId}.`,
        confirm: 'Retry',
        reason: { required: false },
      });
      if (!answer) return;
      button.disabled = true;
      outcome.textContent = 'retrying…';
      try {
        const result = await api(`/api/work/${item.workId}/workflows/${item.workflow}/retry`, {
          method: 'POST',
          body: JSON.stringify(answer.reason ? { reason: answer.reason } : {}),
        });
        const detail = result.outcome.error ?? result.outcome.detail;
        outcome.textContent = `retry: ${result.outcome.status.replace(/_/g, ' ')}${detail ? ` — ${detail}` : ''}`;
        if (result.outcome.status !== 'failed') await reload().catch(showError);
      } catch (err) {
        outcome.textContent = `retry refused: ${describe(err)}`;
      } finally {
        button.disabled = false;
      }
    },
  });
  return h('div', { class: 'repair' }, button, outcome);
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
