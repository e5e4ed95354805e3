// Line charts with uPlot (served from the package's node_modules at ../vendor/). Legends are
// drawn as HTML lists beside the canvas (readable by screen readers, no inline styles), and every
// chart comes with a data table in a <details> for those who cannot see it.
import uPlot from '../vendor/uPlot.esm.js';
import { h } from './dom.js';

export const PALETTE = ['#1f5fa8', '#b3261e', '#1e7d32', '#7b3fa0', '#a35200', '#00707a', '#6d4c41', '#ad1457'];

/** Chart width from its container (the chart never overflows a 360 px screen). */
function widthOf(el) {
  return Math.max(240, Math.min(900, Math.floor(el.getBoundingClientRect().width || 300)));
}

/**
 * A uPlot chart in `container`. opts: {title, xLabel, yLabel, xLog, yLog, data: [xs, ...ys],
 * series: [{label, color, dash, points, pointsOnly, width, hidden}], bands: [[upper, lower, color]],
 * legend: [{label, color, dash, marker}]}. Returns the uPlot instance (resized with the window).
 */
export function lineChart(container, opts) {
  const figure = h('figure', { class: 'chart' });
  const caption = h('figcaption', {}, opts.title);
  const plot = h('div', { class: 'plot', role: 'img', 'aria-label': opts.summary ?? opts.title });
  figure.append(caption, plot);
  if (opts.legend?.length) {
    figure.append(
      h(
        'ul',
        { class: 'legend', 'aria-label': `Legend: ${opts.title}` },
        opts.legend.map((l) => {
          const swatch = h('span', { class: `swatch${l.marker ? ' marker' : ''}${l.dash ? ' dashed' : ''}`, 'aria-hidden': 'true' });
          swatch.style.setProperty('--c', l.color);
          return h('li', {}, swatch, l.label);
        }),
      ),
    );
  }
  container.append(figure);
  const series = [
    { label: opts.xLabel },
    ...opts.series.map((s) => ({
      label: s.label,
      stroke: s.color,
      width: s.width ?? 2,
      dash: s.dash,
      spanGaps: true,
      show: true,
      fill: s.fill,
      points: s.pointsOnly
        ? { show: true, size: s.size ?? 12, stroke: s.color, fill: s.pointFill ?? '#fff', width: 3 }
        : { show: s.points ?? true, size: 6, stroke: s.color, fill: s.color },
      ...(s.pointsOnly ? { paths: () => null } : {}),
      ...(s.hidden ? { stroke: 'transparent', points: { show: false } } : {}),
    })),
  ];
  const u = new uPlot(
    {
      width: widthOf(plot),
      height: opts.height ?? 260,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: false, distr: opts.xLog ? 3 : 1 },
        y: { distr: opts.yLog ? 3 : 1 },
      },
      axes: [
        { label: opts.xLabel, stroke: '#333', grid: { stroke: '#e3e3e3' }, ticks: { stroke: '#ccc' } },
        { label: opts.yLabel, stroke: '#333', grid: { stroke: '#e3e3e3' }, ticks: { stroke: '#ccc' }, size: 64 },
      ],
      series,
      bands: (opts.bands ?? []).map(([upper, lower, color]) => ({ series: [upper, lower], fill: color })),
    },
    opts.data,
    plot,
  );
  const onResize = () => u.setSize({ width: widthOf(figure), height: opts.height ?? 260 });
  window.addEventListener('resize', onResize);
  u.dispose = () => {
    window.removeEventListener('resize', onResize);
    u.destroy();
  };
  return u;
}

/** A <details> holding the chart's numbers as a table. */
export function dataTable(summary, head, rows) {
  return h(
    'details',
    { class: 'chart-data' },
    h('summary', {}, summary),
    h(
      'div',
      { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': summary },
      h(
        'table',
        {},
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            head.map((c) => h('th', { scope: 'col' }, c)),
          ),
        ),
        h(
          'tbody',
          {},
          rows.map((r) =>
            h(
              'tr',
              {},
              r.map((c) => h('td', {}, c)),
            ),
          ),
        ),
      ),
    ),
  );
}
