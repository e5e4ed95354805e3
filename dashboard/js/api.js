// The dashboard's calls to the public JSON API, the API key (asked once, kept in sessionStorage,
// sent as a Bearer token) and the curl command equivalent to each call.

const KEY = 'ridgerec.apiKey';

/** Settings learned from /v1/dashboard/overview: whether writes need the key. */
export const server = { keyRequired: false };

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code ?? 'http_error';
  }
}

/** Absolute URL of an API path (the dashboard is served by the API's own origin). */
export function url(path) {
  return new URL(path, location.origin).href;
}

/** POSIX shell single-quoting. */
function quote(s) {
  return `'${String(s).replaceAll("'", `'\\''`)}'`;
}

/** The curl command that makes the same request; the key itself is never printed. */
export function curl(method, path, body, write = false) {
  const parts = ['curl -s'];
  if (method !== 'GET') parts.push(`-X ${method}`);
  parts.push(quote(url(path)));
  if (write && (server.keyRequired || sessionStorage.getItem(KEY))) parts.push('-H "Authorization: Bearer $RIDGEREC_API_KEY"');
  if (body !== undefined) parts.push("-H 'Content-Type: application/json'", `-d ${quote(JSON.stringify(body))}`);
  return parts.join(' ');
}

/** Shows the key dialog; resolves with the key, or null when cancelled. */
function askKey(message) {
  const dialog = document.getElementById('key-dialog');
  const form = document.getElementById('key-form');
  const input = document.getElementById('key-input');
  const cancel = document.getElementById('key-cancel');
  const title = document.getElementById('key-title');
  title.textContent = message ?? 'API key';
  input.value = '';
  return new Promise((resolve) => {
    const done = (value) => {
      form.removeEventListener('submit', onSubmit);
      cancel.removeEventListener('click', onCancel);
      dialog.removeEventListener('cancel', onCancel);
      if (dialog.open) dialog.close();
      resolve(value);
    };
    const onSubmit = (e) => {
      e.preventDefault();
      const key = input.value.trim();
      if (key === '') return;
      sessionStorage.setItem(KEY, key);
      done(key);
    };
    const onCancel = (e) => {
      e.preventDefault();
      done(null);
    };
    form.addEventListener('submit', onSubmit);
    cancel.addEventListener('click', onCancel);
    dialog.addEventListener('cancel', onCancel);
    dialog.showModal();
    input.focus();
  });
}

async function send(method, path, body, key) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (key) headers.Authorization = `Bearer ${key}`;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let data;
  try {
    data = text === '' ? null : JSON.parse(text);
  } catch {
    data = null;
  }
  return { res, data };
}

/** GET a JSON API path; throws ApiError on a non-2xx answer. */
export async function get(path) {
  const { res, data } = await send('GET', path);
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

/**
 * A write (POST/PUT/PATCH/DELETE) that may need the API key: asked before the first write when
 * the server has one configured, and again after a 401.
 */
export async function write(method, path, body) {
  let key = sessionStorage.getItem(KEY);
  if (!key && server.keyRequired) {
    key = await askKey('API key needed for this change');
    if (!key) throw new ApiError(401, { error: { code: 'unauthorized', message: 'cancelled: this change needs the API key' } });
  }
  let { res, data } = await send(method, path, body, key);
  if (res.status === 401) {
    sessionStorage.removeItem(KEY);
    key = await askKey(key ? 'That API key was refused: try again' : 'API key needed for this change');
    if (!key) throw new ApiError(401, data);
    ({ res, data } = await send(method, path, body, key));
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

/** An open call (POST /v1/recommendations writes nothing and needs no key). */
export async function post(path, body) {
  const { res, data } = await send('POST', path, body);
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}
