// Draws the lifecycle (GET /api/lifecycle) as an SVG state diagram, with the current status
// highlighted like the Mermaid text's `classDef current`. No library: columns by distance from
// the initial status, one box per status, one arrow per (from, action).
const SVG = 'http://www.w3.org/2000/svg';
const BOX_W = 130;
const BOX_H = 38;
const COL = 245;
const ROW = 110;

function el(name, attrs, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function layout(def) {
  const depth = new Map([[def.initialStatus, 0]]);
  for (let grew = true; grew;) {
    grew = false;
    for (const a of def.actions) {
      for (const f of a.from) {
        if (depth.has(f) && !depth.has(a.to)) {
          depth.set(a.to, depth.get(f) + 1);
          grew = true;
        }
      }
    }
  }
  const columns = new Map();
  const pos = new Map();
  for (const s of def.statuses) {
    const d = depth.get(s.name) ?? 0;
    const row = columns.get(d) ?? 0;
    columns.set(d, row + 1);
    pos.set(s.name, { x: 20 + d * COL, y: 40 + row * ROW });
  }
  return pos;
}

// One arrow: forward edges run box side to box side; an edge within a column runs straight down;
// a backward edge bends below the row (same row) or elbows up into the target's bottom.
function edgeGeometry(p, q) {
  if (q.x > p.x) {
    const x1 = p.x + BOX_W,
      y1 = p.y + BOX_H / 2,
      x2 = q.x,
      y2 = q.y + BOX_H / 2;
    return { d: `M ${x1} ${y1} L ${x2} ${y2}`, lx: (x1 + x2) / 2, ly: (y1 + y2) / 2 - 7, anchor: 'middle' };
  }
  if (q.x === p.x) {
    const x = p.x + BOX_W / 2,
      y1 = q.y > p.y ? p.y + BOX_H : p.y,
      y2 = q.y > p.y ? q.y : q.y + BOX_H;
    return { d: `M ${x} ${y1} L ${x} ${y2}`, lx: x + 8, ly: (y1 + y2) / 2 + 4, anchor: 'start' };
  }
  if (q.y === p.y) {
    const x1 = p.x + BOX_W / 2,
      x2 = q.x + BOX_W / 2,
      y = p.y + BOX_H,
      cy = y + 70;
    return { d: `M ${x1} ${y} Q ${(x1 + x2) / 2} ${cy} ${x2} ${y}`, lx: (x1 + x2) / 2, ly: y + 35 + 4, anchor: 'middle' };
  }
  const x1 = p.x,
    y1 = p.y + BOX_H / 2,
    x2 = q.x + BOX_W - 25,
    y2 = q.y + BOX_H;
  return { d: `M ${x1} ${y1} Q ${x2} ${y1} ${x2} ${y2}`, lx: x2 - 6, ly: (y1 + y2) / 2 + 14, anchor: 'end' };
}

export function renderLifecycle(def, current) {
  const pos = layout(def);
  const width = Math.max(...[...pos.values()].map((p) => p.x)) + BOX_W + 20;
  const height = Math.max(...[...pos.values()].map((p) => p.y)) + BOX_H + 60;
  const svg = el('svg', {
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-label': 'patch lifecycle',
    'data-testid': 'lifecycle-diagram',
  });
  const defs = el('defs', {});
  const marker = el('marker', {
    id: 'arrow',
    viewBox: '0 0 10 10',
    refX: 9,
    refY: 5,
    markerWidth: 7,
    markerHeight: 7,
    orient: 'auto-start-reverse',
  });
  marker.append(el('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#7b8397' }));
  defs.append(marker);
  svg.append(defs);

  for (const a of def.actions) {
    for (const f of a.from) {
      const p = pos.get(f);
      const q = pos.get(a.to);
      if (!p || !q) continue;
      const { d, lx, ly, anchor } = edgeGeometry(p, q);
      svg.append(el('path', { d, fill: 'none', stroke: '#9aa2b5', 'stroke-width': 1.5, 'marker-end': 'url(#arrow)' }));
      svg.append(
        el(
          'text',
          {
            x: lx,
            y: ly,
            'text-anchor': anchor,
            'font-size': 11,
            fill: '#4a5163',
            'paint-order': 'stroke',
            stroke: '#fff',
            'stroke-width': 4,
          },
          a.name,
        ),
      );
    }
  }

  const start = pos.get(def.initialStatus);
  if (start) {
    svg.append(el('circle', { cx: start.x + BOX_W / 2, cy: 12, r: 6, fill: '#1d2330' }));
    svg.append(
      el('line', {
        x1: start.x + BOX_W / 2,
        y1: 18,
        x2: start.x + BOX_W / 2,
        y2: start.y,
        stroke: '#1d2330',
        'marker-end': 'url(#arrow)',
      }),
    );
  }
  for (const s of def.statuses) {
    const p = pos.get(s.name);
    const isCurrent = s.name === current;
    const g = el('g', { 'data-status': s.name, class: isCurrent ? 'current' : '' });
    g.append(
      el('rect', {
        x: p.x,
        y: p.y,
        width: BOX_W,
        height: BOX_H,
        rx: 9,
        fill: isCurrent ? '#ffd54f' : s.terminal ? '#eef0f5' : '#fff',
        stroke: isCurrent ? '#e65100' : '#7b8397',
        'stroke-width': isCurrent ? 3 : 1.2,
      }),
    );
    if (s.terminal)
      g.append(
        el('rect', { x: p.x + 3, y: p.y + 3, width: BOX_W - 6, height: BOX_H - 6, rx: 7, fill: 'none', stroke: '#b5bbc8' }),
      );
    g.append(
      el(
        'text',
        {
          x: p.x + BOX_W / 2,
          y: p.y + BOX_H / 2 + 5,
          'text-anchor': 'middle',
          'font-size': 13,
          'font-weight': isCurrent ? 700 : 500,
          fill: '#1d2330',
        },
        s.label,
      ),
    );
    svg.append(g);
  }
  return svg;
}
