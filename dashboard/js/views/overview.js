// Overview: the active model, the data, the serving stats (from the app's own metrics) and the
// precomputation; refreshes itself every 5 s while shown.
import { get } from '../api.js';
import { fill, fmt, h, statusLine, when } from '../dom.js';

const REFRESH_MS = 5000;

function dl(pairs) {
  return h(
    'dl',
    { class: 'facts' },
    pairs.map(([k, v, id]) => [h('dt', {}, k), h('dd', id ? { id } : {}, v)]),
  );
}

function card(title, ...body) {
  const id = `card-${title.toLowerCase().replace(/\W+/g, '-')}`;
  return h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id }, title), ...body);
}

function pct(x) {
  return x === null || x === undefined ? '–' : `${(x * 100).toFixed(2)}%`;
}

function distribution(data) {
  if (!data?.distribution?.length) return h('p', {}, 'No ratings yet.');
  const max = Math.max(...data.distribution.map((d) => d.count));
  return h(
    'table',
    { class: 'bars' },
    h('caption', {}, 'Rating values'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'value'), h('th', { scope: 'col' }, 'ratings'))),
    h(
      'tbody',
      {},
      data.distribution.map((d) => {
        const bar = h('span', { class: 'bar', 'aria-hidden': 'true' });
        bar.style.setProperty('--w', `${(100 * d.count) / max}%`);
        const label = d.from === d.to ? fmt(d.from) : `${fmt(d.from, 3)}–${fmt(d.to, 3)}`;
        return h('tr', {}, h('th', { scope: 'row' }, label), h('td', {}, bar, h('span', { class: 'num' }, fmt(d.count))));
      }),
    ),
  );
}

function draw(body, ov) {
  const m = ov.model;
  const p = m?.params ?? {};
  const s = ov.serving ?? {};
  const sources = s.sources ?? {};
  const pc = ov.precompute;
  fill(
    body,
    card(
      'Model',
      m
        ? dl([
            ['active model', String(m.id), 'overview-model-id'],
            ['kind', m.kind],
            ['factors (k)', fmt(m.factors)],
            ['λ', `${fmt(p.lambda)} (${p.lambdaScaling === 'count' ? 'scaled by count' : 'plain'})`],
            ...(m.feedback === 'implicit' ? [['α', fmt(p.alpha)]] : []),
            ['iterations', fmt(p.iterations)],
            ['solver', `${p.solver ?? '–'}${p.solver === 'cg' ? ` (${p.cgSteps} steps)` : ''}`],
            ['trained', when(m.createdAt)],
            ['activated', when(m.activatedAt)],
            ['train time', m.trainSeconds === null ? '–' : `${fmt(m.trainSeconds, 3)} s`],
            ['users × items', `${fmt(m.users)} × ${fmt(m.items)}`],
          ])
        : h(
            'p',
            { id: 'overview-model-id', 'data-none': 'true' },
            'No model is active yet: run ',
            h('code', {}, 'npx ridgerec train'),
            '.',
          ),
    ),
    card(
      'Data',
      ov.data
        ? [
            dl([
              ['users', fmt(ov.data.users)],
              ['items', fmt(ov.data.items)],
              ['ratings', fmt(ov.data.ratings)],
              ['values', ov.data.ratings ? `${fmt(ov.data.minValue)} … ${fmt(ov.data.maxValue)}, mean ${fmt(ov.data.meanValue, 3)}` : '–'],
            ]),
            distribution(ov.data),
          ]
        : h('p', {}, 'No store attached to this server.'),
    ),
    card(
      'Serving',
      dl([
        ['requests / s', fmt(s.requestsPerSecond), 'overview-rps'],
        ['p50 latency', s.p50Ms === null ? '–' : `${fmt(s.p50Ms, 3)} ms`],
        ['p99 latency', s.p99Ms === null ? '–' : `${fmt(s.p99Ms, 3)} ms`],
        ['error rate (5xx)', pct(s.errorRate)],
        ['client errors (4xx)', pct(s.clientErrorRate)],
        [
          'answers by source',
          `model ${fmt(sources.model ?? 0)} · fold-in ${fmt(sources['fold-in'] ?? 0)} · popular ${fmt(sources.popular ?? 0)}`,
        ],
      ]),
      h('p', { class: 'note' }, `Over the last ${fmt(s.windowSeconds, 3)} s (API requests; the dashboard's own reads are not counted).`),
    ),
    card(
      'Precomputed top-N',
      pc
        ? dl([
            ['status', pc.status],
            ['answers from the table', fmt(pc.precomputedAnswers)],
            ['answers scored live', fmt(pc.liveAnswers)],
            ['popular fallback', fmt(pc.popularAnswers)],
          ])
        : h('p', {}, 'Not available for this recommender.'),
    ),
    card(
      'Tuning',
      ov.tuning
        ? h('p', {}, `Background λ tune: ${ov.tuning.state}, ${ov.tuning.done}/${ov.tuning.total} grid points (${ov.tuning.grid}).`)
        : h('p', {}, 'See the Training view for the newest λ tune.'),
    ),
  );
}

export async function render(section, { showModel }) {
  const status = statusLine();
  const updated = h('p', { class: 'note', 'aria-live': 'off' });
  const body = h('div', { class: 'cards' });
  section.append(updated, status.el, body);
  let timer = null;
  let stopped = false;
  const load = async () => {
    try {
      const ov = await get('/v1/dashboard/overview');
      if (stopped) return;
      showModel(ov);
      draw(body, ov);
      status.clear();
      updated.textContent = `Updated ${new Date().toLocaleTimeString('en-GB')} · refreshes every ${REFRESH_MS / 1000} s`;
    } catch (e) {
      status.error(e);
    }
  };
  await load();
  timer = setInterval(() => {
    if (document.visibilityState === 'visible') void load();
  }, REFRESH_MS);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
