// Helpers for the component tests: a fetch stand-in answering by method and
// path (the API itself is tested by tests/integration and tests/e2e), and a
// render inside the router and a signed-in session.
import { render } from '@testing-library/react';
import type { ReactElement } from 'react';
import { MemoryRouter } from 'react-router-dom';
import { vi } from 'vitest';
import { SessionProvider } from './session';

export type Route = (url: URL, init: RequestInit) => { status?: number; body?: unknown } | undefined;

export interface FetchCall {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body: unknown;
}

/**
 * Installs a fetch that answers from `routes` ("GET /api/v1/me" -> a 200 body,
 * or a function of the request giving {status, body}); unknown requests are 404.
 */
export function fakeApi(routes: Record<string, Route | object>): FetchCall[] {
  const calls: FetchCall[] = [];
  vi.stubGlobal('fetch', async (input: string, init: RequestInit = {}) => {
    const url = new URL(input, 'http://localhost');
    const method = init.method ?? 'GET';
    const body = typeof init.body === 'string' ? JSON.parse(init.body) : undefined;
    calls.push({ method, url, headers: (init.headers ?? {}) as Record<string, string>, body });
    const route = routes[`${method} ${url.pathname}`];
    const answer = typeof route === 'function' ? (route as Route)(url, init) : route ? { body: route } : undefined;
    const status = answer ? (answer.status ?? 200) : 404;
    const payload = answer ? answer.body : { error: { code: 'not_found', message: 'no route', request_id: 'x' } };
    return new Response(status === 204 ? null : JSON.stringify(payload), { status });
  });
  return calls;
}

export const ME_ADMIN = {
  kind: 'key',
  role: 'admin',
  permissions: [],
  actor: 'key:0a1b2c3d4e5f',
  user: null,
  scope: null,
  tenant: { id: 't1', name: 'demo', plan: 'team', status: 'active' },
};

export function renderAt(ui: ReactElement, path = '/') {
  return render(
    <MemoryRouter initialEntries={[path]}>
      <SessionProvider>{ui}</SessionProvider>
    </MemoryRouter>,
  );
}
