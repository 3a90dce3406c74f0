// The benchmarks' SVG charts (bench/svg-chart.ts): one bar per finite value,
// heights in proportion, labels escaped, a legend entry per series.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { barChartSvg } from '../bench/svg-chart.js';

test('a grouped bar chart: a bar per finite value, heights in proportion, text escaped', () => {
  const svg = barChartSvg({
    title: 'CPU <ns> & more',
    yLabel: 'CPU ns per I/O',
    series: ['native C', 'nvme-wasm callback'],
    groups: [{ label: 'QD 1', values: { 'native C': 50, 'nvme-wasm callback': 100 } }, { label: 'QD 32', values: { 'native C': 25, 'nvme-wasm callback': NaN } }],
  });
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assert.ok(svg.trimEnd().endsWith('</svg>'));
  assert.match(svg, 'CPU &lt;ns&gt; &amp; more');
  const bars = [...svg.matchAll(/<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)" fill="[^"]+"><title>([^<]+)<\/title>/g)];
  assert.equal(bars.map((b) => b[3]), ['native C, QD 1: 50', 'nvme-wasm callback, QD 1: 100', 'native C, QD 32: 25'], 'no bar for NaN');
  const h = bars.map((b) => Number(b[2]));
  assert.ok(Math.abs(h[1]! / h[0]! - 2) < 1e-9 && Math.abs(h[0]! / h[2]! - 2) < 1e-9, `heights ${h.join(', ')}`);
  assert.is((svg.match(/<rect x="[\d.]+" y="[\d.]+" width="12" height="12"/g) ?? []).length, 2, 'a legend entry per series');
});

test.run();
