// The dashboard shell: hash routing between the five views, the model badge in the header, and
// `window.dashboard`, where the views publish their charts (the browser tests read the plotted
// data from there rather than from pixels).
import { get, server } from './api.js';
import * as overview from './views/overview.js';
import * as training from './views/training.js';
import * as tryIt from './views/try.js';
import * as catalogue from './views/catalogue.js';
import * as models from './views/models.js';

const VIEWS = { overview, training, try: tryIt, catalogue, models };
const TITLES = { overview: 'Overview', training: 'Training', try: 'Try it', catalogue: 'Catalogue', models: 'Models' };

window.dashboard = { charts: {}, view: null, ready: false };

const main = document.getElementById('main');
const badge = document.getElementById('model-badge');
let current = null;
let cleanup = null;

/** Updates the header badge from an overview answer (every view may call it). */
export function showModel(ov) {
  server.keyRequired = !!ov?.auth?.keyRequired;
  badge.textContent = ov?.model ? `model ${ov.model.id}` : 'no model yet';
  badge.dataset.model = ov?.model ? String(ov.model.id) : '';
}

async function refreshBadge() {
  try {
    showModel(await get('/v1/dashboard/overview'));
  } catch {
    badge.textContent = 'server unreachable';
  }
}

async function route() {
  const name = location.hash.slice(1);
  // Hashes that are not views (the skip link's #main) leave the current view alone.
  if (!(name in VIEWS)) {
    if (current !== null) return;
    return show('overview');
  }
  return show(name);
}

async function show(name) {
  if (name === current) return;
  if (cleanup) cleanup();
  cleanup = null;
  current = name;
  window.dashboard.view = name;
  window.dashboard.ready = false;
  window.dashboard.charts = {};
  for (const a of document.querySelectorAll('nav a')) {
    if (a.dataset.view === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `${TITLES[name]} · ridgerec`;
  main.replaceChildren();
  const section = document.createElement('section');
  section.setAttribute('aria-labelledby', `${name}-title`);
  const h1 = document.createElement('h1');
  h1.id = `${name}-title`;
  h1.textContent = TITLES[name];
  section.append(h1);
  main.append(section);
  try {
    cleanup = (await VIEWS[name].render(section, { showModel })) ?? null;
  } finally {
    if (current === name) window.dashboard.ready = true;
  }
}

window.addEventListener('hashchange', () => {
  void route().then(() => main.focus({ preventScroll: true }));
});
await refreshBadge();
await route();
