// Grouped bar charts as standalone SVG files, for the benchmarks' figures in
// bench/build/ (open them in a browser). Hand-written rather than a charting
// library: the well-kept ones (vega, chart.js with a canvas) need a DOM or a
// native canvas build to render headless, which is a lot of install for a
// few rectangles; this is 80 lines with no dependency.
import fs from 'node:fs';
import path from 'node:path';

/** One group of bars (e.g. one queue depth), a value per series. */
export interface ChartGroup {
  label: string;
  /** Keyed by series name; NaN or missing: no bar. */
  values: Record<string, number>;
}

export interface BarChart {
  title: string;
  /** What the bars measure, with the unit (e.g. 'IOPS', 'CPU ns per I/O'). */
  yLabel: string;
  /** Series in drawing order (legend order). */
  series: string[];
  groups: ChartGroup[];
  /** A note under the chart (date, machine, command). */
  caption?: string;
}

const COLORS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#9c755f'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The chart as an SVG document. */
export function barChartSvg(c: BarChart): string {
  const W = 760;
  const H = 420;
  const left = 80;
  const right = 190;
  const top = 40;
  const bottom = 70;
  const plotW = W - left - right;
  const plotH = H - top - bottom;
  const all = c.groups.flatMap((g) => c.series.map((s) => g.values[s] ?? NaN)).filter(Number.isFinite);
  const max = all.length ? Math.max(...all) : 1;
  // A round axis top: 1, 2 or 5 times a power of ten.
  const p = 10 ** Math.floor(Math.log10(max || 1));
  const yMax = [1, 2, 5, 10].map((m) => m * p).find((v) => v >= max) ?? max;
  const y = (v: number) => top + plotH - (v / yMax) * plotH;
  const gw = plotW / Math.max(1, c.groups.length);
  const bw = (gw * 0.8) / Math.max(1, c.series.length);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(c.title)}</text>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const v = (yMax * i) / 5;
    out.push(`<line x1="${left}" x2="${left + plotW}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`);
    out.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${esc(v >= 1000 ? v.toLocaleString('en-US') : String(+v.toPrecision(3)))}</text>`);
  }
  out.push(`<text transform="translate(18 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(c.yLabel)}</text>`);
  c.groups.forEach((g, gi) => {
    const x0 = left + gi * gw + gw * 0.1;
    c.series.forEach((s, si) => {
      const v = g.values[s];
      if (v === undefined || !Number.isFinite(v)) return;
      out.push(`<rect x="${x0 + si * bw}" y="${y(v)}" width="${bw - 2}" height="${top + plotH - y(v)}" fill="${COLORS[si % COLORS.length]}"><title>${esc(`${s}, ${g.label}: ${v}`)}</title></rect>`);
    });
    out.push(`<text x="${left + gi * gw + gw / 2}" y="${top + plotH + 18}" text-anchor="middle">${esc(g.label)}</text>`);
  });
  out.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#333"/>`);
  out.push(`<line x1="${left}" x2="${left + plotW}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`);
  c.series.forEach((s, si) => {
    const ly = top + 10 + si * 20;
    out.push(`<rect x="${left + plotW + 16}" y="${ly - 10}" width="12" height="12" fill="${COLORS[si % COLORS.length]}"/>`);
    out.push(`<text x="${left + plotW + 34}" y="${ly}">${esc(s)}</text>`);
  });
  if (c.caption) out.push(`<text x="${left}" y="${H - 16}" font-size="11" fill="#555">${esc(c.caption)}</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** Write the chart to `file` (directories created); returns the path. */
export function writeBarChart(file: string, c: BarChart): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, barChartSvg(c));
  return file;
}
