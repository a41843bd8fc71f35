// A small promise wrapper around http.request: the bench needs per-request state (rotating
// refresh tokens), which load generators like autocannon cannot carry between requests.
import http from 'node:http';

export const DEFAULT_TIMEOUT_MS = 10_000;

export function keepAliveAgent(maxSockets) {
  return new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, keepAliveMsecs: 1000 });
}

/**
 * Resolves with { status, headers, body } (body as a string). Rejects on network errors and
 * after `timeoutMs` without an answer, so every phase stays bounded in time.
 */
export function request(baseUrl, { method = 'GET', path, headers = {}, body, agent, timeoutMs = DEFAULT_TIMEOUT_MS }) {
  return new Promise((resolve, reject) => {
    const url = new URL(path, baseUrl);
    const payload = body === undefined ? undefined : Buffer.from(body);
    const req = http.request(
      url,
      {
        method,
        agent: agent ?? false,
        headers: { ...headers, 'content-length': payload ? payload.length : 0 },
      },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', fail);
      },
    );
    const timer = setTimeout(
      () => req.destroy(new Error(`timeout after ${timeoutMs} ms: ${method} ${path}`)),
      timeoutMs,
    );
    function fail(error) {
      clearTimeout(timer);
      reject(error);
    }
    req.on('error', fail);
    if (payload) req.write(payload);
    req.end();
  });
}

export function jsonRequest(baseUrl, method, path, value, options = {}) {
  return request(baseUrl, {
    method,
    path,
    ...options,
    headers: { 'content-type': 'application/json', ...(options.headers ?? {}) },
    body: JSON.stringify(value),
  });
}

/** The value of cookie `name` from a response's Set-Cookie headers, or undefined. */
export function setCookieValue(headers, name) {
  const list = headers['set-cookie'] ?? [];
  for (const cookie of Array.isArray(list) ? list : [list]) {
    const first = cookie.split(';', 1)[0];
    const eq = first.indexOf('=');
    if (eq > 0 && first.slice(0, eq).trim() === name) return first.slice(eq + 1).trim();
  }
  return undefined;
}
