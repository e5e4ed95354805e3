/**
 * `ridgerec tune --report FILE`: one self-contained HTML file (inline CSS and SVG; no scripts, no
 * fonts, no network fetches) showing the validation curve — the metric against λ on a log scale,
 * one line per factors value, the best point marked — beside the training error against λ, so
 * the overfitting gap is visible, and a table of every grid point.
 *
 * When the grid has dimensions besides λ and factors (alpha, lambda-scaling, …), each plotted
 * point is the best of those settings for its (factors, λ) by the validation metric, and the
 * training line shows that same setting's training error.
 * The document is well-formed XML (void elements self-closed) so it can be checked by a parser.
 */
import { paramsToFlags, type GridValue, type PointResult, type TuneResult } from './tune.js';

export interface ReportInfo {
  /** where the folds came from */
  readonly source: string;
  /** the grid as given (flag names → values) */
  readonly grid: Readonly<Record<string, readonly GridValue[]>>;
  /** ISO timestamp shown in the header (default: now) */
  readonly createdAt?: string;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22'];

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function fmt(x: number | null | undefined, digits = 4): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  return x.toFixed(digits);
}

function fmtLambda(x: number): string {
  return Number(x.toPrecision(4)).toString();
}

/** One plotted series: a factors value and its points sorted by λ. */
export interface Series {
  readonly factors: number;
  readonly points: readonly { lambda: number; result: PointResult; index: number }[];
}

/**
 * Groups the results by factors; within a group, one point per λ: the best by the validation
 * metric among the other dimensions' settings. Failed points are left out.
 */
export function seriesByFactors(r: TuneResult): Series[] {
  const groups = new Map<number, Map<number, { lambda: number; result: PointResult; index: number }>>();
  r.results.forEach((result, index) => {
    if (!Number.isFinite(result.metric)) return;
    const f = result.params.factors;
    const l = result.params.lambda;
    let g = groups.get(f);
    if (!g) groups.set(f, (g = new Map()));
    const cur = g.get(l);
    const better = !cur || (r.metric.higherIsBetter ? result.metric > cur.result.metric : result.metric < cur.result.metric);
    if (better) g.set(l, { lambda: l, result, index });
  });
  return [...groups.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([factors, g]) => ({ factors, points: [...g.values()].sort((a, b) => a.lambda - b.lambda) }));
}

interface Scale {
  (v: number): number;
  readonly ticks: readonly number[];
  readonly label: (v: number) => string;
}

function logOrLinearX(values: readonly number[], x0: number, x1: number): Scale & { readonly log: boolean } {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const log = lo > 0;
  const f = log ? Math.log10 : (v: number) => v;
  let a = f(lo);
  let b = f(hi);
  if (a === b) {
    a -= 0.5;
    b += 0.5;
  } else {
    const pad = (b - a) * 0.04;
    a -= pad;
    b += pad;
  }
  const scale = ((v: number) => x0 + ((f(v) - a) / (b - a)) * (x1 - x0)) as Scale & { log: boolean };
  const distinct = [...new Set(values)].sort((p, q) => p - q);
  let ticks: number[];
  if (distinct.length <= 12) ticks = distinct;
  else if (log) {
    ticks = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) if (10 ** e >= lo && 10 ** e <= hi) ticks.push(10 ** e);
  } else ticks = niceTicks(lo, hi);
  Object.assign(scale, { ticks, label: fmtLambda, log });
  return scale;
}

function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (lo === hi) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function linearY(values: readonly number[], y0: number, y1: number): Scale {
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (lo === hi) {
    const d = Math.abs(lo) * 0.05 || 0.5;
    lo -= d;
    hi += d;
  } else {
    const pad = (hi - lo) * 0.08;
    lo -= pad;
    hi += pad;
  }
  const scale = ((v: number) => y0 - ((v - lo) / (hi - lo)) * (y0 - y1)) as Scale;
  const ticks = niceTicks(lo, hi);
  const step = ticks.length > 1 ? ticks[1]! - ticks[0]! : 1;
  const digits = Math.max(0, Math.min(6, -Math.floor(Math.log10(step)) + 1));
  Object.assign(scale, { ticks, label: (v: number) => v.toFixed(digits) });
  return scale;
}

interface ChartSpec {
  readonly id: string;
  readonly title: string;
  readonly yLabel: string;
  /** 'validation' or 'training': the class of its polylines */
  readonly kind: 'validation' | 'training';
  readonly value: (p: PointResult) => number | null;
}

const W = 560;
const H = 360;
const M = { left: 64, right: 16, top: 54, bottom: 52 };

function chart(r: TuneResult, series: readonly Series[], spec: ChartSpec): string {
  const pts = series.flatMap((s) => s.points.map((p) => ({ s, p, y: spec.value(p.result) })));
  const finite = pts.filter((q): q is typeof q & { y: number } => q.y !== null && Number.isFinite(q.y));
  const out: string[] = [];
  out.push(
    `<svg id="${spec.id}" class="chart ${spec.kind}" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeXml(spec.title)}">`,
  );
  out.push(`<title>${escapeXml(spec.title)}</title>`);
  out.push(`<text class="chart-title" x="${W / 2}" y="20" text-anchor="middle">${escapeXml(spec.title)}</text>`);
  if (finite.length === 0) {
    out.push(`<text x="${W / 2}" y="${H / 2}" text-anchor="middle">no finite values to plot</text></svg>`);
    return out.join('\n');
  }
  const x = logOrLinearX(
    finite.map((q) => q.p.lambda),
    M.left,
    W - M.right,
  );
  const y = linearY(
    finite.map((q) => q.y),
    H - M.bottom,
    M.top,
  );
  // Axes, grid lines and tick labels.
  out.push(`<g class="axes">`);
  out.push(`<line x1="${M.left}" y1="${H - M.bottom}" x2="${W - M.right}" y2="${H - M.bottom}" class="axis"/>`);
  out.push(`<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${H - M.bottom}" class="axis"/>`);
  for (const t of x.ticks) {
    const px = x(t).toFixed(1);
    out.push(`<line x1="${px}" y1="${M.top}" x2="${px}" y2="${H - M.bottom}" class="grid"/>`);
    out.push(`<text x="${px}" y="${H - M.bottom + 16}" text-anchor="middle" class="tick">${escapeXml(x.label(t))}</text>`);
  }
  for (const t of y.ticks) {
    const py = y(t).toFixed(1);
    out.push(`<line x1="${M.left}" y1="${py}" x2="${W - M.right}" y2="${py}" class="grid"/>`);
    out.push(`<text x="${M.left - 6}" y="${py}" text-anchor="end" dominant-baseline="middle" class="tick">${escapeXml(y.label(t))}</text>`);
  }
  out.push(
    `<text x="${(M.left + W - M.right) / 2}" y="${H - 12}" text-anchor="middle" class="axis-label">λ (${x.log ? 'log scale' : 'linear scale: the grid has λ = 0'})</text>`,
  );
  out.push(
    `<text transform="translate(16 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle" class="axis-label">${escapeXml(spec.yLabel)}</text>`,
  );
  out.push(`</g>`);
  // One polyline per factors value, its points as circles.
  series.forEach((s, si) => {
    const color = PALETTE[si % PALETTE.length]!;
    const coords = s.points
      .map((p) => ({ p, v: spec.value(p.result) }))
      .filter((q): q is typeof q & { v: number } => q.v !== null && Number.isFinite(q.v));
    out.push(`<g class="series" data-factors="${s.factors}">`);
    out.push(
      `<polyline class="${spec.kind}-line" data-factors="${s.factors}" fill="none" stroke="${color}" stroke-width="2" points="${coords
        .map((q) => `${x(q.p.lambda).toFixed(1)},${y(q.v).toFixed(1)}`)
        .join(' ')}"/>`,
    );
    for (const q of coords) {
      out.push(
        `<circle cx="${x(q.p.lambda).toFixed(1)}" cy="${y(q.v).toFixed(1)}" r="3" fill="${color}"><title>factors ${s.factors}, λ ${fmtLambda(q.p.lambda)}: ${fmt(q.v)}</title></circle>`,
      );
    }
    out.push(`</g>`);
  });
  // The best point: a ring on the validation chart, a ring on the training chart at the same λ.
  const best = finite.find((q) => q.p.index === r.bestIndex);
  if (best) {
    const bx = x(best.p.lambda).toFixed(1);
    const by = y(best.y).toFixed(1);
    out.push(
      `<g class="best-marker"><circle cx="${bx}" cy="${by}" r="8" fill="none" stroke="#000" stroke-width="2"/>` +
        `<text x="${bx}" y="${(Number(by) - 12).toFixed(1)}" text-anchor="middle" class="best-label">best</text>` +
        `<title>best: factors ${best.s.factors}, λ ${fmtLambda(best.p.lambda)}, ${escapeXml(spec.yLabel)} ${fmt(best.y)}</title></g>`,
    );
  }
  // Legend: one row between the title and the plot, so it never hides a point.
  series.forEach((s, si) => {
    const lx = M.left + si * 100;
    const ly = 38;
    const color = PALETTE[si % PALETTE.length]!;
    out.push(
      `<g class="legend"><line x1="${lx}" y1="${ly}" x2="${lx + 18}" y2="${ly}" stroke="${color}" stroke-width="2"/><text x="${lx + 24}" y="${ly}" dominant-baseline="middle">factors ${s.factors}</text></g>`,
    );
  });
  out.push(`</svg>`);
  return out.join('\n');
}

function table(r: TuneResult): string {
  const explicit = r.best.params.feedback === 'explicit';
  const flagRows = r.results.map((p) => paramsToFlags(p.params));
  // Show only the hyperparameters that vary (the rest are in the summary).
  const keys = Object.keys(flagRows[0] ?? {}).filter((k) => new Set(flagRows.map((row) => String(row[k]))).size > 1);
  const head = [...keys, `${r.metric.name} (mean)`, '± std', explicit ? 'training RMSE' : 'training loss / rating', 'seconds', ''];
  const rows = r.results.map((p, i) => {
    const cls = i === r.bestIndex ? ' class="best"' : '';
    const cells = [
      ...keys.map((k) => escapeXml(String(flagRows[i]![k]))),
      fmt(p.metric),
      fmt(p.std),
      fmt(explicit ? p.trainRmse : p.trainLoss),
      fmt(p.seconds, 1),
      p.error ? escapeXml(`failed: ${p.error}`) : i === r.bestIndex ? 'best' : '',
    ];
    return `<tr${cls}>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`;
  });
  return `<table>\n<thead><tr>${head.map((h) => `<th>${escapeXml(h)}</th>`).join('')}</tr></thead>\n<tbody>\n${rows.join('\n')}\n</tbody>\n</table>`;
}

/** Renders the report. Pure: the caller writes the string to the file. */
export function renderTuneReport(r: TuneResult, info: ReportInfo): string {
  const explicit = r.best.params.feedback === 'explicit';
  const series = seriesByFactors(r);
  const metricLabel = `validation ${r.metric.name} (${r.metric.higherIsBetter ? 'higher' : 'lower'} is better)`;
  const validation = chart(r, series, {
    id: 'validation',
    title: `Validation ${r.metric.name} against λ (mean over ${r.folds} fold${r.folds === 1 ? '' : 's'})`,
    yLabel: metricLabel,
    kind: 'validation',
    value: (p) => p.metric,
  });
  const training = chart(r, series, {
    id: 'training',
    title: explicit ? 'Training RMSE against λ (on the training part, unclipped)' : 'Training data loss per rating against λ',
    yLabel: explicit ? 'training RMSE' : 'data loss / training rating',
    kind: 'training',
    value: (p) => (explicit ? p.trainRmse : p.trainLoss),
  });
  const bestFlags = paramsToFlags(r.best.params);
  const otherDims = Object.keys(info.grid).filter((k) => k !== 'lambda' && k !== 'factors');
  const created = info.createdAt ?? new Date().toISOString();
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title>ridgerec tune: ${escapeXml(r.metric.name)} against λ</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
svg.chart { border: 1px solid #ddd; background: #fff; font-size: 11px; }
svg .axis { stroke: #333; } svg .grid { stroke: #eee; } svg .chart-title { font-size: 13px; font-weight: 600; }
svg .axis-label { font-size: 12px; } svg .best-label { font-size: 11px; font-weight: 600; }
table { border-collapse: collapse; font-size: 13px; } th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
tr.best td { background: #fff3c4; font-weight: 600; }
dl { display: grid; grid-template-columns: max-content auto; gap: 2px 12px; } dt { font-weight: 600; }
code { font-family: ui-monospace, monospace; }
</style>
</head>
<body>
<h1>ridgerec tune — ${escapeXml(r.metric.name)} against λ</h1>
<dl>
<dt>best</dt><dd><code>${escapeXml(
    Object.entries(bestFlags)
      .map(([k, v]) => `--${k} ${v}`)
      .join(' '),
  )}</code></dd>
<dt>${escapeXml(r.metric.name)}</dt><dd>${fmt(r.best.metric)} ± ${fmt(r.best.std)} (mean ± sample std over ${r.folds} fold${r.folds === 1 ? '' : 's'})</dd>
<dt>grid</dt><dd><code>${escapeXml(
    Object.entries(info.grid)
      .map(([k, v]) => `${k}=${v.join(',')}`)
      .join(' '),
  )}</code> (${r.results.length} points)</dd>
<dt>data</dt><dd>${escapeXml(info.source)}</dd>
<dt>created</dt><dd>${escapeXml(created)}</dd>
<dt>seconds</dt><dd>${fmt(r.seconds, 1)}</dd>
</dl>
<p>λ trades training fit for generalisation: the training error only grows with λ, while the
validation metric is best in between (the U-shaped curve). One line per factors value${
    otherDims.length > 0 ? `; each point is the best setting of ${escapeXml(otherDims.join(', '))} for its factors and λ` : ''
  }.</p>
<div class="charts">
${validation}
${training}
</div>
<h2>All grid points</h2>
${table(r)}
</body>
</html>
`;
}
