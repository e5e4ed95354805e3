// Catalogue: search items by id, title or category; each with its rating count, its similar items,
// and a switch for `active` (PATCH /v1/items/:item, with the API key when the server has one).
import { curl, get, write } from '../api.js';
import { curlBlock, field, fill, fmt, h, statusLine, tableWrap } from '../dom.js';

const PAGE = 25;

export async function render(section) {
  const status = statusLine();
  let categories = [];
  try {
    categories = (await get('/v1/dashboard/categories')).categories;
  } catch (e) {
    status.error(e);
  }
  const [qField, qInput] = field(
    'Search',
    h('input', { type: 'search', name: 'q', placeholder: 'id, title or category', autocomplete: 'off' }),
  );
  const [cField, cSelect] = field(
    'Category',
    h(
      'select',
      { name: 'category' },
      h('option', { value: '' }, 'any'),
      categories.map((c) => h('option', { value: c.category }, c.category)),
    ),
  );
  const [aField, aSelect] = field(
    'Status',
    h(
      'select',
      { name: 'active' },
      h('option', { value: '' }, 'any'),
      h('option', { value: 'true' }, 'active'),
      h('option', { value: 'false' }, 'inactive'),
    ),
  );
  const form = h(
    'form',
    { class: 'controls', role: 'search', 'aria-label': 'Search the catalogue' },
    qField,
    cField,
    aField,
    h('div', { class: 'field submit' }, h('button', { type: 'submit' }, 'Search')),
  );
  const summary = h('p', { class: 'note', 'aria-live': 'polite' });
  const results = h('div', { id: 'catalogue-results' });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Show more');
  const similarOut = h('div', { id: 'catalogue-similar', 'aria-live': 'polite' });
  const lastCurl = h('div', {});
  section.append(form, status.el, summary, results, more, lastCurl, similarOut);

  let offset = 0;
  let rows = [];
  let total = 0;

  function query() {
    const q = new URLSearchParams({ limit: String(PAGE), offset: String(offset) });
    if (qInput.value.trim()) q.set('q', qInput.value.trim());
    if (cSelect.value) q.set('category', cSelect.value);
    if (aSelect.value) q.set('active', aSelect.value);
    return `/v1/dashboard/items?${q}`;
  }

  function draw() {
    const table = h(
      'table',
      { class: 'items' },
      h('caption', {}, 'Catalogue items'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['item', 'title', 'categories', 'ratings', 'status', 'actions'].map((c) => h('th', { scope: 'col' }, c)),
        ),
      ),
      h(
        'tbody',
        {},
        rows.map((it) => {
          const name = it.title ?? it.item;
          const toggle = h(
            'button',
            {
              type: 'button',
              class: `small${it.active ? ' danger' : ''}`,
              'aria-label': `${it.active ? 'Deactivate' : 'Activate'} ${name}`,
              onclick: () => void setActive(it, !it.active),
            },
            it.active ? 'Deactivate' : 'Activate',
          );
          const sim = h(
            'button',
            { type: 'button', class: 'small secondary', 'aria-label': `Items similar to ${name}`, onclick: () => void similar(it) },
            'Similar',
          );
          return h(
            'tr',
            { dataset: { item: it.item, active: String(it.active) } },
            h('td', {}, h('code', {}, it.item)),
            h('td', {}, it.title ?? '–'),
            h('td', {}, it.categories.join(', ') || '–'),
            h('td', { class: 'num' }, fmt(it.ratings)),
            h('td', {}, h('span', { class: `pill ${it.active ? 'on' : 'off'}` }, it.active ? 'active' : 'inactive')),
            h('td', { class: 'row-actions' }, sim, toggle),
          );
        }),
      ),
    );
    fill(results, tableWrap('Catalogue items', table));
    summary.textContent = `${fmt(total)} item${total === 1 ? '' : 's'} match; showing ${rows.length}.`;
    more.hidden = rows.length >= total;
  }

  async function search(append = false) {
    if (!append) {
      offset = 0;
      rows = [];
    }
    const path = query();
    try {
      const r = await get(path);
      rows = rows.concat(r.items);
      offset = rows.length;
      total = r.total;
      draw();
      fill(lastCurl, curlBlock(curl('GET', path)));
      status.clear();
    } catch (e) {
      status.error(e);
    }
  }

  async function setActive(it, active) {
    const path = `/v1/items/${encodeURIComponent(it.item)}`;
    try {
      const stored = await write('PATCH', path, { active });
      rows = rows.map((r) => (r.item === it.item ? { ...r, active: stored.active } : r));
      draw();
      fill(lastCurl, curlBlock(curl('PATCH', path, { active }, true)));
      status.info(
        `${it.title ?? it.item} is now ${stored.active ? 'active: it may be recommended again' : 'inactive: no route recommends it'}.`,
      );
    } catch (e) {
      status.error(e);
    }
  }

  async function similar(it) {
    const path = `/v1/items/${encodeURIComponent(it.item)}/similar?limit=10`;
    try {
      const r = await get(path);
      fill(
        similarOut,
        h('h2', {}, `Similar to ${it.title ?? it.item}`),
        h(
          'ol',
          { class: 'recs' },
          r.items.map((x) =>
            h(
              'li',
              { dataset: { item: x.item } },
              h('span', { class: 'title' }, x.title ?? x.item),
              ' ',
              h('code', {}, x.item),
              ` · ${fmt(x.score)}`,
            ),
          ),
        ),
        curlBlock(curl('GET', path)),
      );
    } catch (e) {
      fill(similarOut, h('p', { class: 'status error' }, `${it.item}: ${e.message}`));
    }
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void search();
  });
  more.addEventListener('click', () => void search(true));
  await search();
}
