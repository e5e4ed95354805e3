// Try it: a user's recommendations with titles, scores, source and the "because" items; the
// rules as form controls; similar items; an anonymous basket built by clicking products, with
// live recommendations. Every call is the public API, shown as the equivalent curl command.
import { curl, get, post } from '../api.js';
import { curlBlock, field, fill, fmt, h, statusLine } from '../dom.js';

const EXPLAIN = 3;

function categoryOptions(categories, anyLabel) {
  return [h('option', { value: '' }, anyLabel), ...categories.map((c) => h('option', { value: c.category }, `${c.category} (${c.items})`))];
}

/** One recommended item: title, id, score, and the rated items behind it. */
function itemCard(x, actions) {
  const because = x.because ?? [];
  return h(
    'li',
    { class: 'rec', dataset: { item: x.item } },
    h('p', { class: 'rec-title' }, h('span', { class: 'title' }, x.title ?? x.item), ' ', h('code', {}, x.item)),
    h('p', { class: 'rec-score' }, `score ${fmt(x.score)}`),
    because.length
      ? h(
          'p',
          { class: 'because' },
          'because: ',
          h(
            'span',
            { class: 'because-items' },
            because.map((b, i) => [i ? ', ' : '', h('span', { class: 'because-item', dataset: { item: b.item } }, b.title ?? b.item)]),
          ),
        )
      : x.because
        ? h('p', { class: 'because none' }, 'because: (popular item)')
        : null,
    actions ? h('div', { class: 'rec-actions' }, actions(x)) : null,
  );
}

function resultList(label, r, actions) {
  return [
    h(
      'p',
      { class: 'note' },
      `model ${r.model} · source `,
      h('strong', { class: 'source' }, r.source ?? 'model'),
      ` · ${r.items.length} item${r.items.length === 1 ? '' : 's'}`,
    ),
    r.items.length
      ? h(
          'ol',
          { class: 'recs', 'aria-label': label },
          r.items.map((x) => itemCard(x, actions)),
        )
      : h('p', {}, 'No items pass these rules.'),
  ];
}

function splitList(s) {
  return s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');
}

export async function render(section) {
  const status = statusLine();
  section.append(status.el);
  let categories = [];
  try {
    categories = (await get('/v1/dashboard/categories')).categories;
  } catch (e) {
    status.error(e);
  }

  // ---- a user's recommendations
  const [userField, userInput] = field(
    'User',
    h('input', { type: 'text', name: 'user', value: 'demo-1', list: 'user-list', autocomplete: 'off', required: true }),
  );
  const userList = h('datalist', { id: 'user-list' });
  const [limitField, limitInput] = field('How many', h('input', { type: 'number', name: 'limit', min: '1', max: '100', value: '10' }));
  const [catField, catSelect] = field('Only category', h('select', { name: 'category' }, categoryOptions(categories, 'any category')));
  const [exclField, exclInput] = field(
    'Exclude items',
    h('input', { type: 'text', name: 'exclude', placeholder: 'gaming-013, gaming-004' }),
    'Comma-separated item ids',
  );
  const [capField, capInput] = field(
    'Max per category',
    h('input', { type: 'number', name: 'maxPerCategory', min: '1', max: '100', placeholder: 'no cap' }),
  );
  const userOut = h('div', { id: 'user-results', 'aria-live': 'polite' });
  const userForm = h(
    'form',
    { class: 'controls', 'aria-label': 'Recommendations for a user' },
    userField,
    userList,
    limitField,
    catField,
    exclField,
    capField,
    h('div', { class: 'field submit' }, h('button', { type: 'submit' }, 'Recommend')),
  );

  // ---- similar items
  const [simField, simInput] = field(
    'Item',
    h('input', { type: 'text', name: 'item', placeholder: 'hiking-001', autocomplete: 'off', list: 'item-list' }),
  );
  const itemList = h('datalist', { id: 'item-list' });
  const simOut = h('div', { id: 'similar-results', 'aria-live': 'polite' });
  const simForm = h(
    'form',
    { class: 'controls', 'aria-label': 'Similar items' },
    simField,
    itemList,
    h('div', { class: 'field submit' }, h('button', { type: 'submit' }, 'Find similar')),
  );

  // ---- anonymous basket
  const basket = new Map(); // item id → title
  const [pickField, pickSelect] = field(
    'Browse category',
    h('select', { name: 'pick', id: 'basket-category' }, categoryOptions(categories, 'choose a category')),
  );
  const products = h('ul', { class: 'products', id: 'basket-products', 'aria-label': 'Products to add' });
  const basketList = h('ul', { class: 'basket', id: 'basket-items', 'aria-label': 'Basket' });
  const basketOut = h('div', { id: 'basket-results', 'aria-live': 'polite' });

  section.append(
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'try-user' },
      h('h2', { id: 'try-user' }, 'Recommendations for a user'),
      userForm,
      userOut,
    ),
    h('section', { class: 'panel', 'aria-labelledby': 'try-similar' }, h('h2', { id: 'try-similar' }, 'Similar items'), simForm, simOut),
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'try-basket' },
      h('h2', { id: 'try-basket' }, 'Anonymous basket'),
      h(
        'p',
        { class: 'note' },
        'Add products to a basket: the visitor has no account, so their taste is folded in from the basket on the spot (nothing is stored).',
      ),
      h('div', { class: 'basket-grid' }, h('div', {}, pickField, products), h('div', {}, h('h3', {}, 'Basket'), basketList)),
      basketOut,
    ),
  );

  async function recommendUser() {
    const user = userInput.value.trim();
    if (user === '') return;
    const q = new URLSearchParams({ limit: limitInput.value || '10', explain: String(EXPLAIN) });
    if (catSelect.value) q.set('category', catSelect.value);
    if (splitList(exclInput.value).length) q.set('exclude', splitList(exclInput.value).join(','));
    if (capInput.value) q.set('maxPerCategory', capInput.value);
    const path = `/v1/users/${encodeURIComponent(user)}/recommendations?${q}`;
    try {
      const r = await get(path);
      fill(userOut, resultList(`Recommendations for ${user}`, r, actions), curlBlock(curl('GET', path)));
      status.clear();
    } catch (e) {
      fill(userOut, h('p', { class: 'status error' }, e.message), curlBlock(curl('GET', path)));
    }
  }

  async function similar(item) {
    const path = `/v1/items/${encodeURIComponent(item)}/similar?limit=10`;
    try {
      const r = await get(path);
      fill(
        simOut,
        h('p', { class: 'note' }, `Items like `, h('code', {}, item), ` (cosine of the item factors)`),
        resultList(`Items similar to ${item}`, r, actions),
        curlBlock(curl('GET', path)),
      );
    } catch (e) {
      fill(simOut, h('p', { class: 'status error' }, e.message), curlBlock(curl('GET', path)));
    }
  }

  // Answers may arrive out of order while items are clicked quickly: only the newest is shown.
  let basketCall = 0;
  async function recommendBasket() {
    const call = ++basketCall;
    if (basket.size === 0) {
      fill(basketOut, h('p', {}, 'The basket is empty: add a few products.'));
      basketOut.dataset.size = '0';
      return;
    }
    const body = { ratings: [...basket.keys()].map((item) => ({ item, value: 1 })), limit: 10, explain: EXPLAIN };
    try {
      const r = await post('/v1/recommendations', body);
      if (call !== basketCall) return;
      fill(
        basketOut,
        h('h3', {}, 'Recommended for this basket'),
        resultList('Recommendations for the basket', r, actions),
        curlBlock(curl('POST', '/v1/recommendations', body)),
      );
      basketOut.dataset.size = String(body.ratings.length);
    } catch (e) {
      if (call !== basketCall) return;
      fill(basketOut, h('p', { class: 'status error' }, e.message), curlBlock(curl('POST', '/v1/recommendations', body)));
    }
  }

  function drawBasket() {
    fill(
      basketList,
      basket.size === 0
        ? h('li', { class: 'note' }, 'empty')
        : [...basket].map(([item, title]) =>
            h(
              'li',
              { dataset: { item } },
              `${title} `,
              h(
                'button',
                {
                  type: 'button',
                  class: 'small secondary',
                  'aria-label': `Remove ${title} from the basket`,
                  onclick: () => (basket.delete(item), drawBasket(), void recommendBasket()),
                },
                'Remove',
              ),
            ),
          ),
    );
  }

  function addToBasket(item, title) {
    if (basket.has(item)) return;
    basket.set(item, title ?? item);
    drawBasket();
    void recommendBasket();
  }

  function actions(x) {
    const name = x.title ?? x.item;
    return [
      h(
        'button',
        {
          type: 'button',
          class: 'small secondary',
          'aria-label': `Items similar to ${name}`,
          onclick: () => ((simInput.value = x.item), void similar(x.item)),
        },
        'Similar',
      ),
      h(
        'button',
        {
          type: 'button',
          class: 'small secondary',
          'aria-label': `Add ${name} to the basket`,
          onclick: () => addToBasket(x.item, x.title),
        },
        'Add to basket',
      ),
    ];
  }

  async function browse(category) {
    if (!category) {
      fill(products);
      return;
    }
    try {
      const r = await get(`/v1/dashboard/items?category=${encodeURIComponent(category)}&active=true&limit=50`);
      fill(
        products,
        r.items.map((it) =>
          h(
            'li',
            { dataset: { item: it.item } },
            h('span', {}, it.title ?? it.item),
            ' ',
            h(
              'button',
              {
                type: 'button',
                class: 'small',
                'aria-label': `Add ${it.title ?? it.item} to the basket`,
                onclick: () => addToBasket(it.item, it.title),
              },
              'Add',
            ),
          ),
        ),
      );
    } catch (e) {
      status.error(e);
    }
  }

  let userTimer = null;
  userInput.addEventListener('input', () => {
    clearTimeout(userTimer);
    userTimer = setTimeout(() => {
      get(`/v1/dashboard/users?q=${encodeURIComponent(userInput.value.trim())}&limit=20`)
        .then((r) =>
          fill(
            userList,
            r.users.map((u) => h('option', { value: u.user }, `${u.ratings} ratings`)),
          ),
        )
        .catch(() => {});
    }, 250);
  });
  let itemTimer = null;
  simInput.addEventListener('input', () => {
    clearTimeout(itemTimer);
    itemTimer = setTimeout(() => {
      get(`/v1/dashboard/items?q=${encodeURIComponent(simInput.value.trim())}&limit=20`)
        .then((r) =>
          fill(
            itemList,
            r.items.map((it) => h('option', { value: it.item }, it.title ?? it.item)),
          ),
        )
        .catch(() => {});
    }, 250);
  });
  userForm.addEventListener('submit', (e) => {
    e.preventDefault();
    void recommendUser();
  });
  simForm.addEventListener('submit', (e) => {
    e.preventDefault();
    if (simInput.value.trim()) void similar(simInput.value.trim());
  });
  pickSelect.addEventListener('change', () => void browse(pickSelect.value));
  drawBasket();
  void recommendBasket();
  await recommendUser();
  return () => {
    clearTimeout(userTimer);
    clearTimeout(itemTimer);
  };
}
