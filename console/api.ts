// The console's calls to the admin API: same origin, the session cookie, JSON.
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly body: any,
  ) {
    super(message);
  }
}

async function call(method: string, path: string, body?: unknown): Promise<any> {
  const r = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (r.status === 401 || (r.status === 403 && r.headers.get('content-type')?.startsWith('text/plain'))) {
    location.href = '/console/login';
    throw new ApiError('not logged in', r.status, null);
  }
  const text = await r.text();
  let json: any = null;
  try {
    json = text === '' ? null : JSON.parse(text);
  } catch {
    json = { error: text };
  }
  if (!r.ok) throw new ApiError(json?.error ?? `${r.status} ${r.statusText}`, r.status, json);
  return json;
}

export const api = {
  get: (path: string) => call('GET', path),
  post: (path: string, body?: unknown) => call('POST', path, body ?? {}),
  put: (path: string, body?: unknown) => call('PUT', path, body ?? {}),
  del: (path: string) => call('DELETE', path),
};
