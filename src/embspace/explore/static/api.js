// Talking to the embspace server: JSON views and binary Float32/Int32 arrays.

export class ApiError extends Error {
  constructor(message, status, body) {
    super(message);
    this.status = status;
    this.body = body || {};
  }
}

async function check(response) {
  if (response.ok) return response;
  let body = {};
  try {
    body = await response.json();
  } catch (e) {
    body = { error: `${response.status} ${response.statusText}` };
  }
  throw new ApiError(body.error || `request failed (${response.status})`, response.status, body);
}

/** GET a JSON view; `params` become the query string. */
export async function getJSON(path, params = {}) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') query.set(k, v);
  }
  const qs = query.toString();
  const response = await check(await fetch(qs ? `${path}?${qs}` : path, { credentials: 'same-origin' }));
  return response.json();
}

/** POST a JSON body (the server accepts nothing else for changes). */
export async function postJSON(path, body) {
  const response = await check(await fetch(path, {
    method: 'POST', credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  }));
  return response.json();
}

/** GET a little-endian binary array as `Type` (Float32Array, Int32Array). */
export async function getArray(path, Type, params = {}) {
  const qs = new URLSearchParams(params).toString();
  const response = await check(await fetch(qs ? `${path}?${qs}` : path, { credentials: 'same-origin' }));
  return new Type(await response.arrayBuffer());
}

export const spaceUrl = (space, rest = '') => `/api/space/${space}${rest}`;
export const mapUrl = (space, key, rest = '') => `/api/space/${space}/map/${encodeURIComponent(key)}${rest}`;
