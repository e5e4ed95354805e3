// Models: the registry's history with each model's metrics; activate any model or roll back to
// the previous one (with the API key when the server has one). The server swaps the model in
// before it answers, so the Overview shows the new one at once.
import { curl, get, write } from '../api.js';
import { curlBlock, fill, fmt, h, statusLine, tableWrap, when } from '../dom.js';

function metricsText(m) {
  const parts = [];
  for (const [k, v] of Object.entries(m ?? {})) {
    if (v === null || typeof v === 'object') continue;
    parts.push(`${k} ${typeof v === 'number' ? fmt(v) : v}`);
  }
  return parts.join(' · ') || '–';
}

export async function render(section, { showModel }) {
  const status = statusLine();
  const rollback = h('button', { type: 'button', id: 'rollback' }, 'Roll back to the previous model');
  const list = h('div', { id: 'models-list' });
  const lastCurl = h('div', {});
  section.append(h('div', { class: 'toolbar' }, rollback), status.el, list, lastCurl);

  async function load() {
    const r = await get('/v1/models');
    const table = h(
      'table',
      { class: 'models' },
      h('caption', {}, `${r.models.length} saved model${r.models.length === 1 ? '' : 's'}, newest first`),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['id', 'status', 'feedback', 'created', 'factors', 'λ', 'metrics', 'note', 'action'].map((c) => h('th', { scope: 'col' }, c)),
        ),
      ),
      h(
        'tbody',
        {},
        [...r.models].reverse().map((m) =>
          h(
            'tr',
            { dataset: { model: String(m.id), status: m.status }, class: m.status === 'active' ? 'current' : '' },
            h('td', {}, String(m.id)),
            h('td', {}, h('span', { class: `pill ${m.status === 'active' ? 'on' : m.status === 'retired' ? 'off' : ''}` }, m.status)),
            h('td', {}, m.feedback),
            h('td', {}, when(m.createdAt)),
            h('td', { class: 'num' }, fmt(m.factors)),
            h('td', { class: 'num' }, fmt(m.params?.lambda)),
            h('td', { class: 'metrics' }, metricsText(m.metrics)),
            h('td', {}, m.reason ?? ''),
            h(
              'td',
              {},
              m.status === 'active'
                ? h('span', { class: 'note' }, 'serving')
                : h(
                    'button',
                    {
                      type: 'button',
                      class: 'small',
                      'aria-label': `Activate model ${m.id}`,
                      onclick: () => void act('POST', `/v1/models/${m.id}/activate`),
                    },
                    'Activate',
                  ),
            ),
          ),
        ),
      ),
    );
    fill(list, tableWrap('Saved models', table));
  }

  async function act(method, path) {
    try {
      const r = await write(method, path);
      status.info(`Model ${r.activated} is active now (was ${r.previous ?? 'none'}).`);
      fill(lastCurl, curlBlock(curl(method, path, undefined, true)));
      await load();
      showModel(await get('/v1/dashboard/overview'));
    } catch (e) {
      status.error(e);
    }
  }

  rollback.addEventListener('click', () => void act('POST', '/v1/models/rollback'));
  try {
    await load();
  } catch (e) {
    status.error(e);
  }
}
