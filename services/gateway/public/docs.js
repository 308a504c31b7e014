// The API reference: renders the gateway's own OpenAPI document (/api/openapi.json, generated from
// the routes' zod schemas). Plain DOM built from text nodes only, nothing from a CDN.

const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === 'class') node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) if (child !== null && child !== undefined && child !== false) node.append(child);
  return node;
};

const refName = (ref) => ref.replace('#/components/schemas/', '');
const refLink = (ref) => el('a', { href: `#schema-${refName(ref)}` }, refName(ref));

/** A one-line summary of a schema's type and constraints. */
function typeOf(schema) {
  if (!schema || typeof schema !== 'object') return 'any';
  if (schema.$ref) return refLink(schema.$ref);
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(' | ');
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives) return el('span', {}, ...alternatives.flatMap((s, i) => [i ? ' | ' : '', typeOf(s)]));
  if (schema.type === 'array') return el('span', {}, 'array of ', typeOf(schema.items));
  const facts = [];
  if (schema.format) facts.push(schema.format);
  if (schema.minLength !== undefined || schema.maxLength !== undefined)
    facts.push(`length ${schema.minLength ?? 0}…${schema.maxLength ?? '∞'}`);
  if (schema.minimum !== undefined || schema.maximum !== undefined)
    facts.push(`${schema.minimum ?? '−∞'}…${schema.maximum ?? '∞'}`);
  for (const part of [schema, ...(schema.allOf ?? [])]) if (part.pattern) facts.push(`pattern ${part.pattern}`);
  const type = Array.isArray(schema.type) ? schema.type.join(' | ') : (schema.type ?? 'any');
  return facts.length ? `${type} (${facts.join(', ')})` : type;
}

/** An object's properties as a table, nested objects indented; anything else as its type. */
function renderSchema(schema, depth = 0) {
  if (!schema || schema.type !== 'object' || !schema.properties || depth > 4) {
    return el('p', { class: 'schema' }, el('span', { class: 'type' }, typeOf(schema)));
  }
  const required = new Set(schema.required ?? []);
  const rows = Object.entries(schema.properties).map(([name, prop]) =>
    el(
      'tr',
      {},
      el('td', {}, name, required.has(name) ? el('span', { class: 'required' }, 'required') : null),
      el(
        'td',
        {},
        el('span', { class: 'type' }, typeOf(prop)),
        prop.description ? el('div', { class: 'muted' }, prop.description) : null,
        prop.type === 'object' && prop.properties ? renderSchema(prop, depth + 1) : null,
        prop.type === 'array' && prop.items?.type === 'object' ? renderSchema(prop.items, depth + 1) : null,
      ),
    ),
  );
  const note =
    schema.additionalProperties === false ? el('div', { class: 'muted' }, 'no other fields (an unknown field is a 400)') : null;
  return el('div', { class: 'schema' }, el('table', {}, el('tbody', {}, rows)), note);
}

function renderOperation(path, method, op, components) {
  // Parameters shared by every operation (the trace headers) are references to components.
  const params = (op.parameters ?? []).map((p) => (p.$ref ? (components?.parameters?.[p.$ref.split('/').pop()] ?? p) : p));
  const body = op.requestBody?.content?.['application/json']?.schema;
  return el(
    'section',
    {
      class: 'card op',
      id: op.operationId ?? `${method}-${path}`,
      'data-testid': 'operation',
      'data-method': method.toUpperCase(),
      'data-path': path,
    },
    el(
      'h3',
      {},
      el('span', { class: `method ${method}` }, method.toUpperCase()),
      el('code', {}, path),
      op.security?.length === 0 ? el('span', { class: 'badge' }, 'public') : null,
    ),
    op.summary ? el('p', {}, op.summary) : null,
    op.description ? el('p', { class: 'muted' }, op.description) : null,
    params.length
      ? [
          el('h4', {}, 'Parameters'),
          el(
            'table',
            { class: 'schema' },
            el(
              'tbody',
              {},
              params.map((p) =>
                el(
                  'tr',
                  {},
                  el('td', {}, `${p.name} (${p.in})`, p.required ? el('span', { class: 'required' }, 'required') : null),
                  el(
                    'td',
                    {},
                    el('span', { class: 'type' }, typeOf(p.schema)),
                    p.description ? el('div', { class: 'muted' }, p.description) : null,
                  ),
                ),
              ),
            ),
          ),
        ]
      : null,
    body ? [el('h4', {}, `Body${op.requestBody.required === false ? ' (optional)' : ''}`), renderSchema(body)] : null,
    el('h4', {}, 'Responses'),
    el(
      'ul',
      { class: 'responses' },
      Object.entries(op.responses ?? {}).map(([status, response]) => {
        const [type, media] = Object.entries(response.content ?? {})[0] ?? [];
        return el(
          'li',
          {},
          el('code', {}, status),
          response.description ?? '',
          media?.schema
            ? [' — ', el('span', { class: 'type' }, type === 'application/json' ? typeOf(media.schema) : type)]
            : null,
        );
      }),
    ),
  );
}

async function main() {
  const root = document.getElementById('doc');
  let doc;
  try {
    const res = await fetch('/api/openapi.json', { headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    doc = await res.json();
  } catch (err) {
    root.replaceChildren(
      el('p', { class: 'error' }, `Could not load /api/openapi.json: ${err instanceof Error ? err.message : String(err)}`),
    );
    return;
  }
  const byTag = new Map();
  for (const [path, operations] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(operations)) {
      const tag = op.tags?.[0] ?? 'other';
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push(renderOperation(path, method, op, doc.components));
    }
  }
  const schemas = Object.entries(doc.components?.schemas ?? {});
  const children = [
    el(
      'h1',
      {},
      `${doc.info?.title ?? 'API'} `,
      el('span', { class: 'muted' }, `OpenAPI ${doc.openapi}, version ${doc.info?.version ?? '?'}`),
    ),
    el('p', {}, doc.info?.description ?? ''),
    el('p', { class: 'muted' }, 'Every operation needs Authorization: Bearer <token> unless marked public.'),
    el(
      'nav',
      { class: 'toc' },
      [...byTag.keys()].map((tag) => el('a', { href: `#tag-${tag}` }, tag)),
      schemas.length ? el('a', { href: '#schemas' }, 'schemas') : null,
    ),
    [...byTag.entries()].map(([tag, sections]) => [el('h2', { id: `tag-${tag}` }, tag), sections]),
    schemas.length ? el('h2', { id: 'schemas' }, 'Schemas') : null,
    schemas.map(([name, schema]) =>
      el('section', { class: 'card', id: `schema-${name}`, 'data-testid': 'schema' }, el('h3', {}, name), renderSchema(schema)),
    ),
  ];
  root.replaceChildren(...children.flat(Infinity).filter(Boolean));
  if (location.hash) document.getElementById(location.hash.slice(1))?.scrollIntoView();
}

void main();
