// Training: the active model's objective per ALS iteration, split into its two terms
//   J(w) = data loss + λ·penalty
// and the λ validation curve of the newest tune run (metric against λ, one line per factor count,
// ±1 std band over the folds, the chosen point ringed) beside the training loss against λ.
import { get } from '../api.js';
import { lineChart, dataTable, PALETTE } from '../charts.js';
import { fill, fmt, h, statusLine, when } from '../dom.js';

function lossSection(container, it) {
  const rows = it.iterations;
  const section = h(
    'section',
    { class: 'panel', 'aria-labelledby': 'loss-title' },
    h('h2', { id: 'loss-title' }, `Loss per iteration · model ${it.model}`),
  );
  container.append(section);
  if (rows.length === 0) {
    section.append(h('p', {}, 'This model carries no per-iteration history (it was imported from a model file made elsewhere).'));
    return null;
  }
  section.append(
    h(
      'p',
      { class: 'note' },
      `J(w) = data loss + λ·penalty after each sweep (users, then items); ${it.feedback} feedback, λ = ${fmt(it.params.lambda)}` +
        `${it.params.lambdaScaling === 'count' ? ' scaled by each row’s count' : ''}. Log scale.`,
    ),
  );
  const xs = rows.map((r) => r.iteration);
  const u = lineChart(section, {
    title: 'Objective per ALS iteration',
    summary: `Line chart of the data loss and the λ·penalty over ${rows.length} iterations; the final data loss is ${fmt(rows.at(-1).dataLoss)}.`,
    xLabel: 'iteration',
    yLabel: 'loss',
    yLog: rows.every((r) => r.dataLoss > 0 && r.penalty > 0),
    data: [xs, rows.map((r) => r.dataLoss), rows.map((r) => r.penalty), rows.map((r) => r.loss)],
    series: [
      { label: 'data loss', color: PALETTE[0] },
      { label: 'λ·penalty', color: PALETTE[1] },
      { label: 'J(w) total', color: '#555', dash: [6, 4], width: 1.5, points: false },
    ],
    legend: [
      { label: 'data loss', color: PALETTE[0] },
      { label: 'λ·penalty', color: PALETTE[1] },
      { label: 'J(w) = data loss + λ·penalty', color: '#555', dash: true },
    ],
  });
  u.root.closest('figure').dataset.points = String(xs.length);
  section.append(
    dataTable(
      'Loss per iteration as a table',
      ['iteration', 'data loss', 'λ·penalty', 'J(w)', 'seconds'],
      rows.map((r) => [r.iteration, fmt(r.dataLoss, 6), fmt(r.penalty, 6), fmt(r.loss, 6), fmt(r.seconds, 3)]),
    ),
  );
  return u;
}

function howToTune(container, tun) {
  const running = tun.running;
  const section = h(
    'section',
    { class: 'panel', 'aria-labelledby': 'lambda-title', id: 'lambda-empty' },
    h('h2', { id: 'lambda-title' }, 'λ validation curve'),
  );
  if (running && running.state === 'running') {
    section.append(
      h(
        'p',
        {},
        `A λ tune is running in the background: ${running.done} of ${running.total} grid points done (${running.grid}). The curve appears here when it finishes.`,
      ),
    );
  } else {
    if (running && running.state === 'failed')
      section.append(h('p', { class: 'status error' }, `The background tune failed: ${running.error}`));
    section.append(
      h('p', {}, 'No tuning result is stored in this database yet. λ is chosen on held-out data: run a grid search, then come back:'),
      h('pre', {}, h('code', {}, tun.howTo)),
      h('p', { class: 'note' }, 'Then ', h('code', {}, 'npx ridgerec train --tuned'), ' trains with the best point.'),
    );
  }
  container.append(section);
}

function lambdaSection(container, t) {
  const section = h(
    'section',
    { class: 'panel', 'aria-labelledby': 'lambda-title' },
    h('h2', { id: 'lambda-title' }, `λ validation curve · tuning result ${t.id}`),
  );
  container.append(section);
  const best = t.results[t.bestIndex];
  const better = t.higherIsBetter ? 'higher is better' : 'lower is better';
  const explicit = t.feedback === 'explicit';
  section.append(
    h(
      'p',
      { class: 'note' },
      `${t.metric} (${better}) on held-out data, mean ± std over ${t.folds} fold${t.folds === 1 ? '' : 's'}; ${t.source}; ${when(t.createdAt)}. ` +
        `Chosen: factors ${best?.params?.factors ?? '–'}, λ ${fmt(best?.params?.lambda)} → ${t.metric} ${fmt(t.bestValue)}.`,
    ),
  );
  const curves = t.curves;
  const lambdas = [...new Set(curves.flatMap((c) => c.points.map((p) => p.lambda)))].sort((a, b) => a - b);
  const xLog = lambdas.length > 0 && lambdas[0] > 0;
  const at = (c, lambda, f) => {
    const p = c.points.find((q) => q.lambda === lambda);
    return p === undefined ? null : f(p);
  };
  const bestLambda = best ? Number(best.params.lambda) : null;
  const bestFactors = best ? Number(best.params.factors) : null;
  // Validation: per factor count a line, and two invisible lines (mean ± std) filled between.
  const vData = [lambdas];
  const vSeries = [];
  const bands = [];
  const legend = [];
  curves.forEach((c, i) => {
    const color = PALETTE[i % PALETTE.length];
    vData.push(lambdas.map((l) => at(c, l, (p) => p.metric)));
    vSeries.push({ label: `factors ${c.factors}`, color });
    legend.push({ label: `factors ${c.factors}`, color });
  });
  curves.forEach((c, i) => {
    const color = PALETTE[i % PALETTE.length];
    const upper = vData.length;
    vData.push(lambdas.map((l) => at(c, l, (p) => p.metric + p.std)));
    vData.push(lambdas.map((l) => at(c, l, (p) => p.metric - p.std)));
    vSeries.push(
      { label: `factors ${c.factors} + std`, color, hidden: true },
      { label: `factors ${c.factors} − std`, color, hidden: true },
    );
    bands.push([upper, upper + 1, `${color}33`]);
  });
  vData.push(lambdas.map((l) => (l === bestLambda ? (t.bestValue ?? null) : null)));
  vSeries.push({ label: 'chosen', color: '#000', pointsOnly: true, size: 14 });
  legend.push(
    { label: '±1 std over folds (band)', color: '#999', marker: false },
    { label: `chosen point (factors ${bestFactors}, λ ${fmt(bestLambda)})`, color: '#000', marker: true },
  );
  const grid = h('div', { class: 'chart-pair' });
  section.append(grid);
  const vPlot = lineChart(grid, {
    title: `Validation ${t.metric} against λ`,
    summary: `Validation ${t.metric} against λ for ${curves.length} factor counts; chosen λ ${fmt(bestLambda)} with ${t.metric} ${fmt(t.bestValue)}.`,
    xLabel: `λ${xLog ? ' (log scale)' : ''}`,
    yLabel: t.metric,
    xLog,
    data: vData,
    series: vSeries,
    bands,
    legend,
  });
  // Training loss: the same lines, no band; the chosen point ringed.
  const trainOf = (p) => (explicit && p.trainRmse !== null ? p.trainRmse : p.trainLoss);
  const tData = [lambdas, ...curves.map((c) => lambdas.map((l) => at(c, l, trainOf)))];
  const bestCurve = curves.find((c) => c.factors === bestFactors);
  tData.push(lambdas.map((l) => (l === bestLambda && bestCurve ? at(bestCurve, l, trainOf) : null)));
  const trainLabel = explicit ? 'training RMSE' : 'training loss per rating';
  const tPlot = lineChart(grid, {
    title: `${explicit ? 'Training RMSE' : 'Training loss'} against λ`,
    summary: `${trainLabel} against λ; it only rises with λ, while the validation metric peaks.`,
    xLabel: `λ${xLog ? ' (log scale)' : ''}`,
    yLabel: trainLabel,
    xLog,
    data: tData,
    series: [
      ...curves.map((c, i) => ({ label: `factors ${c.factors}`, color: PALETTE[i % PALETTE.length] })),
      { label: 'chosen', color: '#000', pointsOnly: true, size: 14 },
    ],
    legend: [
      ...curves.map((c, i) => ({ label: `factors ${c.factors}`, color: PALETTE[i % PALETTE.length] })),
      { label: 'chosen point', color: '#000', marker: true },
    ],
  });
  vPlot.root.closest('figure').dataset.points = String(curves.reduce((n, c) => n + c.points.length, 0));
  section.append(
    dataTable(
      'Every grid point as a table',
      ['factors', 'λ', `${t.metric} mean`, '± std', explicit ? 'train RMSE' : 'train loss', 'chosen'],
      t.results.map((r, i) => [
        fmt(r.params.factors),
        fmt(r.params.lambda),
        r.error ? `failed: ${r.error}` : fmt(r.metric),
        fmt(r.std),
        fmt(explicit ? r.trainRmse : r.trainLoss),
        i === t.bestIndex ? '← chosen' : '',
      ]),
    ),
  );
  return { vPlot, tPlot };
}

export async function render(section) {
  const status = statusLine();
  const body = h('div', {});
  section.append(status.el, body);
  const charts = [];
  let timer = null;
  const loadTuning = async (slot) => {
    const tun = await get('/v1/tuning');
    for (const c of charts.splice(1)) c.dispose();
    fill(slot);
    if (tun.tuning === null) {
      howToTune(slot, tun);
      // Poll while a background tune runs, then draw its curve.
      if (tun.running?.state === 'running' && timer === null) {
        timer = setInterval(() => {
          get('/v1/tuning')
            .then((next) => {
              if (next.tuning !== null || next.running?.state !== 'running') {
                clearInterval(timer);
                timer = null;
                window.dashboard.ready = false;
                return loadTuning(slot).finally(() => (window.dashboard.ready = true));
              }
              fill(slot);
              howToTune(slot, next);
            })
            .catch((e) => status.error(e));
        }, 2000);
      }
      return;
    }
    const { vPlot, tPlot } = lambdaSection(slot, tun.tuning);
    charts.push(vPlot, tPlot);
    window.dashboard.charts.lambda = vPlot;
    window.dashboard.charts.train = tPlot;
  };
  try {
    const ov = await get('/v1/dashboard/overview');
    if (ov.model === null) {
      body.append(h('p', {}, 'No model is active yet: train one with ', h('code', {}, 'npx ridgerec train'), '.'));
    } else {
      const it = await get('/v1/model/iterations');
      const u = lossSection(body, it);
      charts.push(u ?? { dispose() {} });
      if (u) window.dashboard.charts.loss = u;
    }
    const slot = h('div', {});
    body.append(slot);
    await loadTuning(slot);
  } catch (e) {
    status.error(e);
  }
  return () => {
    if (timer !== null) clearInterval(timer);
    for (const c of charts) c?.dispose?.();
  };
}
