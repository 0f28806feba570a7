// The REST API v1 client (DESIGN.md §3). The bearer token lives in sessionStorage: it dies
// with the tab, and nothing else on the page can read it through a cookie.

const TOKEN_KEY = 'kaas.token';
const BASE = '/api/v1';

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY) || '';
  },
  set(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
  },
};

// An error answer of the API: {"error": {"code", "message", "details"}} plus the HTTP
// status and, for 429, the Retry-After seconds. status 0 = kaasd could not be reached.
export class ApiError extends Error {
  constructor(status, code, message, details = {}, retryAfter = 0) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};
    this.retryAfter = retryAfter;
  }
}

let onUnauthenticated = () => {};
// Called when a request with a token gets 401 (expired or revoked session).
export function setUnauthenticatedHandler(fn) {
  onUnauthenticated = fn;
}

function headers(extra = {}) {
  const h = {Accept: 'application/json', ...extra};
  if (session.token) h.Authorization = `Bearer ${session.token}`;
  return h;
}

async function errorFrom(res) {
  let body = null;
  try {
    body = await res.json();
  } catch {
    // not JSON: fall through to a generic message
  }
  const e = (body && body.error) || {};
  const retryAfter = Number(res.headers.get('Retry-After')) || 0;
  return new ApiError(res.status, e.code || `http_${res.status}`,
    e.message || `${res.status} ${res.statusText}`, e.details, retryAfter);
}

// Sends one request. `body` (an object) goes as JSON; POSTs without one send {} because the
// HTTP layer refuses a POST without a body length. Resolves to the parsed JSON (null for
// 204), or to text when `raw` is set; rejects with ApiError.
export async function request(method, path, body, {signal, raw = false} = {}) {
  const init = {method, headers: headers(), signal};
  if (body !== undefined || method === 'POST' || method === 'PUT') {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body === undefined ? {} : body);
  }
  let res;
  try {
    res = await fetch(BASE + path, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'unreachable', 'kaasd did not answer. Check that it is running and try again.');
  }
  if (!res.ok) {
    const err = await errorFrom(res);
    if (res.status === 401 && session.token && path !== '/auth/login') onUnauthenticated(err);
    throw err;
  }
  if (res.status === 204) return null;
  if (raw) return res.text();
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

export const get = (path, opts) => request('GET', path, undefined, opts);
export const post = (path, body, opts) => request('POST', path, body, opts);
export const put = (path, body, opts) => request('PUT', path, body, opts);
export const patch = (path, body, opts) => request('PATCH', path, body, opts);
export const del = (path, opts) => request('DELETE', path, undefined, opts);

export const enc = encodeURIComponent;

// Reads a server-sent event stream with fetch, because EventSource cannot send the
// Authorization header. Calls onOpen() once the stream is open and onEvent(type, data, id)
// per event; resolves when the stream ends and rejects when it cannot be opened (no such
// route yet, not SSE: an ApiError with the status) or breaks (network error). `lastId`
// resumes after an event already seen (Last-Event-ID, as EventSource does on reconnect).
export async function streamEvents(path, {onOpen = () => {}, onEvent, signal, lastId = ''}) {
  const extra = {Accept: 'text/event-stream'};
  if (lastId) extra['Last-Event-ID'] = lastId;
  const res = await fetch(BASE + path, {headers: headers(extra), signal});
  const type = res.headers.get('Content-Type') || '';
  if (!res.ok || !type.startsWith('text/event-stream') || !res.body) {
    if (res.body) res.body.cancel().catch(() => {});
    throw new ApiError(res.status, 'no_event_stream', 'event stream not available');
  }
  onOpen();
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const {value, done} = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      let id = '';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue; // comment / keep-alive
        const colon = line.indexOf(':');
        const key = colon < 0 ? line : line.slice(0, colon);
        const val = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (key === 'event') event = val;
        if (key === 'data') data.push(val);
        if (key === 'id') id = val;
      }
      if (data.length || event !== 'message') onEvent(event, data.join('\n'), id);
    }
  }
}

// Saves `text` as a file through the browser's download mechanism.
export function saveFile(name, text, type = 'application/yaml') {
  const url = URL.createObjectURL(new Blob([text], {type}));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
