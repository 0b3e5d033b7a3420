// Hand-drawn SVG charts for the operator view (no library: a stacked bar chart with
// reference lines, and horizontal share bars). Each bar carries data-series and data-value,
// so a test reads what was drawn.
'use strict';

const SVG = 'http://www.w3.org/2000/svg';

function svgEl(name, attrs, text) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text != null) e.textContent = String(text);
  return e;
}

// A "nice" axis top for a maximum: 1, 2, 5 times a power of ten.
function niceTop(max) {
  if (max <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(max)));
  for (const m of [1, 2, 5, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

// Stacked bars: labels[i] on the x axis, series [{name, color, values}], optional
// horizontal lines [{name, color, value}], and a legend.
function stackedBars(svg, { labels, series, lines = [], unit = '' }) {
  svg.textContent = '';
  const W = 720, H = 240, L = 40, R = 10, T = 26, B = 34;
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('role', 'img');
  const totals = labels.map((_, i) => series.reduce((s, x) => s + (x.values[i] || 0), 0));
  const top = niceTop(Math.max(1, ...totals, ...lines.map((l) => l.value)));
  const y = (v) => T + (H - T - B) * (1 - v / top);
  const step = (W - L - R) / Math.max(1, labels.length);
  // Counts are whole: no half tick on an axis of 1.
  for (const f of Number.isInteger(top / 2) ? [0, 0.5, 1] : [0, 1]) {
    svg.appendChild(svgEl('line', { x1: L, x2: W - R, y1: y(top * f), y2: y(top * f), class: 'grid' }));
    svg.appendChild(svgEl('text', { x: L - 4, y: y(top * f) + 4, 'text-anchor': 'end', class: 'axis' }, Math.round(top * f) + unit));
  }
  labels.forEach((label, i) => {
    let base = 0;
    for (const s of series) {
      const v = s.values[i] || 0;
      if (v > 0) {
        const r = svgEl('rect', {
          x: L + i * step + 1, width: Math.max(1, step - 2),
          y: y(base + v), height: y(base) - y(base + v),
          fill: s.color, 'data-series': s.name, 'data-value': v, 'data-label': label,
        });
        r.appendChild(svgEl('title', {}, `${label} ${s.name}: ${v}`));
        svg.appendChild(r);
      }
      base += v;
    }
    // Every few labels, so they do not overlap.
    const every = Math.ceil(labels.length / 16);
    if (i % every === 0) {
      svg.appendChild(svgEl('text', { x: L + i * step + step / 2, y: H - B + 14, 'text-anchor': 'middle', class: 'axis' }, label));
    }
  });
  for (const l of lines) {
    svg.appendChild(svgEl('line', { x1: L, x2: W - R, y1: y(l.value), y2: y(l.value), stroke: l.color, 'stroke-dasharray': '5 3', 'stroke-width': 2, 'data-line': l.name, 'data-value': l.value }));
  }
  let x = L;
  for (const item of [...series.map((s) => ({ name: s.name, color: s.color })), ...lines.map((l) => ({ name: `${l.name} (${l.value})`, color: l.color }))]) {
    svg.appendChild(svgEl('rect', { x, y: 6, width: 10, height: 10, fill: item.color }));
    const t = svgEl('text', { x: x + 14, y: 15, class: 'legend' }, item.name);
    svg.appendChild(t);
    x += 24 + 7 * item.name.length;
  }
}

// Horizontal share bars: rows [{label, kept, total}], each drawn as kept/total.
function shareBars(svg, rows) {
  svg.textContent = '';
  const W = 720, row = 26, L = 170, R = 150;
  const H = Math.max(1, rows.length) * row + 8;
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('role', 'img');
  rows.forEach((r, i) => {
    const y = 4 + i * row;
    const share = r.total ? r.kept / r.total : null;
    svg.appendChild(svgEl('text', { x: L - 8, y: y + 15, 'text-anchor': 'end', class: 'legend' }, r.label));
    svg.appendChild(svgEl('rect', { x: L, y, width: W - L - R, height: row - 8, class: 'track' }));
    if (share != null) {
      const color = share >= 0.9 ? '#2e7d4f' : share >= 0.7 ? '#d29a1e' : '#c0392b';
      svg.appendChild(svgEl('rect', { x: L, y, width: (W - L - R) * share, height: row - 8, fill: color, 'data-series': r.label, 'data-value': r.kept, 'data-total': r.total }));
    }
    const text = share == null ? 'nothing to tell yet' : `${Math.round(share * 100)}% (${r.kept} of ${r.total})`;
    svg.appendChild(svgEl('text', { x: W - R + 8, y: y + 15, class: 'legend' }, text));
  });
}

window.charts = { stackedBars, shareBars };
