/**
 * Charts as inline SVG, drawn here so the report needs no network and no library. Bar charts: one
 * group of bars per sweep point, each bar the median of the runs with a whisker from the slowest to
 * the fastest run, and an optional dashed goal line. Line charts: a value over the time of a run,
 * one line per series.
 */

/** One bar: the median and the spread of the runs. */
export interface Bar {
  readonly series: string;
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

/** One group of bars (a sweep point). */
export interface BarGroup {
  readonly label: string;
  readonly bars: readonly Bar[];
}

/** What to draw. */
export interface BarChart {
  readonly id: string;
  readonly title: string;
  readonly unit: string;
  readonly groups: readonly BarGroup[];
  readonly goal?: { readonly value: number; readonly label: string };
}

/** One line of a line chart: `[x, y]` points, a gap where y is null. */
export interface LineSeries {
  readonly label: string;
  readonly points: readonly (readonly [number, number | null])[];
}

/** A line chart. */
export interface LineChart {
  readonly id: string;
  readonly title: string;
  readonly unit: string;
  readonly xUnit: string;
  readonly series: readonly LineSeries[];
  readonly goal?: { readonly value: number; readonly label: string };
}

const COLOURS = ['#2f6fb0', '#e08a1e', '#3a9a5b', '#b23a48', '#6b4c9a'];
const WIDTH = 760;
const HEIGHT = 320;
const M = { top: 36, right: 20, bottom: 58, left: 72 };

/** Escapes text for HTML and SVG. */
export function esc(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}

/** A "nice" upper bound and tick step for values up to `max`. */
export function niceScale(max: number): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 0.25 };
  const rough = max / 5;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * magnitude).find((s) => s >= rough)!;
  return { top: Math.ceil(max / step) * step, step };
}

const fmt = (n: number) =>
  Math.abs(n) >= 100 ? Math.round(n).toLocaleString('en-US') : String(Math.round(n * 10) / 10);

/** The opening `<svg>`, the title, the value axis's grid lines and labels, and its unit. */
function frame(
  chart: { readonly id: string; readonly title: string; readonly unit: string },
  y: (v: number) => number,
  scale: { top: number; step: number },
): string[] {
  const plotH = HEIGHT - M.top - M.bottom;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" id="${esc(chart.id)}" data-chart="${esc(chart.id)}" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-label="${esc(chart.title)}">`,
    `<text x="${M.left}" y="20" font-size="14" font-weight="600">${esc(chart.title)}</text>`,
  ];
  for (let v = 0; v <= scale.top + scale.step / 2; v += scale.step) {
    out.push(
      `<line x1="${M.left}" x2="${WIDTH - M.right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`,
      `<text x="${M.left - 6}" y="${y(v) + 4}" font-size="11" text-anchor="end">${fmt(v)}</text>`,
    );
  }
  out.push(
    `<text transform="translate(16 ${M.top + plotH / 2}) rotate(-90)" font-size="11" text-anchor="middle">${esc(chart.unit)}</text>`,
  );
  return out;
}

/** The dashed goal line and its label, when the goal is on the scale. */
function goalLine(
  goal: { readonly value: number; readonly label: string } | undefined,
  y: (v: number) => number,
  top: number,
): string[] {
  if (goal === undefined || goal.value > top) return [];
  const gy = y(goal.value);
  return [
    `<path class="goal" d="M${M.left} ${gy}H${WIDTH - M.right}" stroke="#b23a48" stroke-dasharray="6 4" fill="none"/>`,
    `<text x="${WIDTH - M.right}" y="${gy - 4}" font-size="11" text-anchor="end" fill="#b23a48">${esc(goal.label)}</text>`,
  ];
}

/** A colour swatch and a label per series, along the bottom. */
function legend(labels: readonly string[], spacing: number, baseline: number): string[] {
  return labels.flatMap((label, i) => [
    `<rect x="${M.left + i * spacing}" y="${baseline - 9}" width="10" height="10" fill="${COLOURS[i % COLOURS.length]}"/>`,
    `<text x="${M.left + i * spacing + 14}" y="${baseline}" font-size="11">${esc(label)}</text>`,
  ]);
}

/** The chart as an `<svg>` element. */
export function barChartSvg(chart: BarChart): string {
  const series = [...new Set(chart.groups.flatMap((g) => g.bars.map((b) => b.series)))];
  const highest = Math.max(
    0,
    ...chart.groups.flatMap((g) => g.bars.map((b) => b.max)),
    chart.goal?.value ?? 0,
  );
  const { top, step } = niceScale(highest * 1.05);
  const plotW = WIDTH - M.left - M.right;
  const plotH = HEIGHT - M.top - M.bottom;
  const y = (v: number) => M.top + plotH - (Math.max(0, v) / top) * plotH;
  const out = frame(chart, y, { top, step });
  const groupW = plotW / Math.max(1, chart.groups.length);
  const barW = Math.min(48, (groupW * 0.8) / Math.max(1, series.length));
  chart.groups.forEach((group, gi) => {
    const x0 = M.left + gi * groupW + (groupW - barW * series.length) / 2;
    for (const bar of group.bars) {
      const si = series.indexOf(bar.series);
      const x = x0 + si * barW;
      const h = y(0) - y(bar.median);
      out.push(
        `<path class="bar" data-series="${esc(bar.series)}" data-value="${bar.median}" d="M${x + 2} ${y(0)}h${barW - 4}v${-h}h${-(barW - 4)}Z" fill="${COLOURS[si % COLOURS.length]}"><title>${esc(`${group.label} ${bar.series}: ${fmt(bar.median)} ${chart.unit} (runs ${fmt(bar.min)}–${fmt(bar.max)})`)}</title></path>`,
      );
      if (bar.max > bar.min) {
        const cx = x + barW / 2;
        out.push(
          `<path class="whisker" d="M${cx} ${y(bar.min)}V${y(bar.max)}M${cx - 5} ${y(bar.min)}h10M${cx - 5} ${y(bar.max)}h10" stroke="#222" fill="none"/>`,
        );
      }
    }
    out.push(
      `<text x="${M.left + gi * groupW + groupW / 2}" y="${HEIGHT - M.bottom + 16}" font-size="11" text-anchor="middle">${esc(group.label)}</text>`,
    );
  });
  out.push(...goalLine(chart.goal, y, top), ...legend(series, 110, HEIGHT - 13), '</svg>');
  return out.join('\n');
}

/** The chart as an `<svg>` element. */
export function lineChartSvg(chart: LineChart): string {
  const ys = chart.series.flatMap((l) => l.points.map((p) => p[1]).filter((v): v is number => v !== null));
  const xs = chart.series.flatMap((l) => l.points.map((p) => p[0]));
  const { top, step } = niceScale(Math.max(0, ...ys, chart.goal?.value ?? 0) * 1.05);
  const { top: right, step: xStep } = niceScale(Math.max(0, ...xs));
  const plotW = WIDTH - M.left - M.right;
  const plotH = HEIGHT - M.top - M.bottom;
  const x = (v: number) => M.left + (v / right) * plotW;
  const y = (v: number) => M.top + plotH - (Math.max(0, v) / top) * plotH;
  const out = frame(chart, y, { top, step });
  for (let v = 0; v <= right + xStep / 2; v += xStep) {
    out.push(
      `<text x="${x(v)}" y="${HEIGHT - M.bottom + 16}" font-size="11" text-anchor="middle">${fmt(v)}</text>`,
    );
  }
  out.push(
    `<text x="${M.left + plotW / 2}" y="${HEIGHT - M.bottom + 32}" font-size="11" text-anchor="middle">${esc(chart.xUnit)}</text>`,
  );
  chart.series.forEach((line, si) => {
    let d = '';
    let pen = 'M';
    for (const [px, py] of line.points) {
      if (py === null) {
        pen = 'M';
        continue;
      }
      d += `${pen}${x(px).toFixed(1)} ${y(py).toFixed(1)}`;
      pen = 'L';
    }
    out.push(
      `<path class="line" data-series="${esc(line.label)}" d="${d}" stroke="${COLOURS[si % COLOURS.length]}" stroke-width="1.5" fill="none"><title>${esc(line.label)}</title></path>`,
    );
  });
  out.push(
    ...goalLine(chart.goal, y, top),
    ...legend(
      chart.series.map((l) => l.label),
      150,
      HEIGHT - 7,
    ),
    '</svg>',
  );
  return out.join('\n');
}
