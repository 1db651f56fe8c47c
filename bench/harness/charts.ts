/**
 * Bar charts as inline SVG, drawn here so the report needs no network and no library: one group of
 * bars per sweep point, each bar the median of the runs with a whisker from the slowest to the
 * fastest run, and an optional dashed goal line.
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
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" id="${esc(chart.id)}" data-chart="${esc(chart.id)}" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-label="${esc(chart.title)}">`,
    `<text x="${M.left}" y="20" font-size="14" font-weight="600">${esc(chart.title)}</text>`,
  ];
  for (let v = 0; v <= top + step / 2; v += step) {
    out.push(
      `<line x1="${M.left}" x2="${WIDTH - M.right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`,
      `<text x="${M.left - 6}" y="${y(v) + 4}" font-size="11" text-anchor="end">${fmt(v)}</text>`,
    );
  }
  out.push(
    `<text transform="translate(16 ${M.top + plotH / 2}) rotate(-90)" font-size="11" text-anchor="middle">${esc(chart.unit)}</text>`,
  );
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
  if (chart.goal !== undefined && chart.goal.value <= top) {
    const gy = y(chart.goal.value);
    out.push(
      `<path class="goal" d="M${M.left} ${gy}H${WIDTH - M.right}" stroke="#b23a48" stroke-dasharray="6 4" fill="none"/>`,
      `<text x="${WIDTH - M.right}" y="${gy - 4}" font-size="11" text-anchor="end" fill="#b23a48">${esc(chart.goal.label)}</text>`,
    );
  }
  series.forEach((s, si) => {
    const lx = M.left + si * 110;
    out.push(
      `<rect x="${lx}" y="${HEIGHT - 22}" width="10" height="10" fill="${COLOURS[si % COLOURS.length]}"/>`,
      `<text x="${lx + 14}" y="${HEIGHT - 13}" font-size="11">${esc(s)}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n');
}
