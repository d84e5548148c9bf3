// The coordinator's JSON API: POST /api/<service>/<method>, body and answer in the
// protobuf JSON mapping (snake_case names, int64 as strings, NaN/Infinity as strings).
// Also the bearer token: taken from the URL fragment, kept in sessionStorage.

const TOKEN_KEY = 'actgrid.token';

/** An answer other than 2xx: `status` is the gRPC status name ("FAILED_PRECONDITION"). */
export class ApiError extends Error {
  constructor(http, status, message, code) {
    super(message || status || `HTTP ${http}`);
    this.http = http;
    this.status = status || '';
    this.code = code;
  }
  get unauthorized() {
    return this.http === 401 || this.http === 403;
  }
}

let onUnauthorized = () => {};
/** Called (with the ApiError) whenever the server answers 401 or 403. */
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

export function getToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || '';
  } catch {
    return '';
  }
}

export function setToken(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    /* storage disabled: the token lives until the page is left */
  }
}

/**
 * Moves a token from the URL fragment ("#token=T", "#/grid/3?token=T", "#/grid/3&token=T")
 * into sessionStorage and removes it from the visible URL (and from history).
 */
export function takeTokenFromUrl() {
  const hash = location.hash;
  const m = hash.match(/([#?&])token=([^&]*)(&?)/);
  if (!m) return;
  setToken(decodeURIComponent(m[2]));
  // Cut "token=..." with one separator: the "&" after it if any (keeping the one before),
  // else the "?" or "&" before it ("#" always stays).
  const keepSep = m[3] === '&' || m[1] === '#';
  let rest = hash.slice(0, m.index) + (keepSep ? m[1] : '') + hash.slice(m.index + m[0].length);
  if (rest === '#' || rest === '') rest = '#/';
  history.replaceState(null, '', location.pathname + location.search + rest);
}

// int64/uint64 fields (strings in protobuf JSON) and double fields (numbers, or the
// strings "NaN", "Infinity", "-Infinity"): all turned into JS numbers. Labels ("value",
// "values", "name", ...) are left alone, so a level literally called "NaN" survives.
const NUMBER_KEYS = new Set([
  'id', 'grid_id', 'created_ms', 'epochs_total', 'epochs_done',
  'first_seen_ms', 'last_seen_ms', 'completed', 'failed',
  'mean', 'std', 'ci95_low', 'ci95_high', 'min', 'max', 'median', 'range',
  'ss', 'df', 'ms', 'f', 'p', 'eta2',
]);

/** Converts a decoded protobuf-JSON object in place (recursively) and returns it. */
export function decode(value) {
  if (Array.isArray(value)) {
    for (const v of value) decode(v);
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (typeof v === 'string' && NUMBER_KEYS.has(k)) value[k] = Number(v);
      else if (v && typeof v === 'object') decode(v);
    }
  }
  return value;
}

function headers() {
  const h = { 'Content-Type': 'application/json' };
  const token = getToken();
  if (token) h.Authorization = `Bearer ${token}`;
  return h;
}

async function post(method, body, signal) {
  let res;
  try {
    res = await fetch(`api/actgrid.v1.${method}`, {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify(body || {}),
      signal,
      cache: 'no-store',
    });
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'UNAVAILABLE', `cannot reach the coordinator (${e && e.message})`);
  }
  if (!res.ok) {
    let err = {};
    try {
      err = await res.json();
    } catch {
      /* not JSON: keep the HTTP status */
    }
    const e = new ApiError(res.status, err.status, err.message || `${res.status} ${res.statusText}`, err.code);
    if (e.unauthorized) onUnauthorized(e);
    throw e;
  }
  return res;
}

/** One unary call, e.g. call('Analysis/Compare', {grid: '3'}). */
export async function call(method, body, signal) {
  const res = await post(method, body, signal);
  return decode(await res.json());
}

/**
 * A server-streaming call answered as NDJSON (one message per line; blank keep-alive
 * lines ignored). Calls onMessage for each message; resolves when the stream ends.
 */
export async function stream(method, body, onMessage, signal) {
  const res = await post(method, body, signal);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) onMessage(decode(JSON.parse(line)));
    }
  }
  buf += decoder.decode();
  if (buf.trim()) onMessage(decode(JSON.parse(buf)));
}
