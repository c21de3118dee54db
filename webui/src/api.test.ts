import { afterEach, describe, expect, it, vi } from 'vitest';
import { api, ApiError, setApiKey, setCsrfToken } from './api';
import { fakeApi } from './test-utils';

afterEach(() => {
  vi.unstubAllGlobals();
  setCsrfToken(undefined);
});

describe('the API client', () => {
  it('sends an API key as a Bearer token and no CSRF header', async () => {
    setApiKey('mf_live_abc');
    setCsrfToken('csrf1');
    const calls = fakeApi({ 'DELETE /api/v1/api-keys/k1': () => ({ status: 204 }) });
    await api.revokeKey('k1');
    expect(calls[0].headers.Authorization).toBe('Bearer mf_live_abc');
    expect(calls[0].headers['X-CSRF-Token']).toBeUndefined();
  });

  it("sends a cookie session's CSRF token on changes only", async () => {
    setCsrfToken('csrf1');
    const calls = fakeApi({
      'POST /api/v1/api-keys': () => ({ status: 201, body: { id: 'k', key: 'mf_x' } }),
      'GET /api/v1/api-keys': { items: [], next_cursor: null },
    });
    await api.keys();
    await api.createKey({ name: 'ci', role: 'viewer' });
    expect(calls[0].headers['X-CSRF-Token']).toBeUndefined();
    expect(calls[1].headers['X-CSRF-Token']).toBe('csrf1');
    expect(calls[1].headers.Authorization).toBeUndefined();
    expect(calls[1].body).toEqual({ name: 'ci', role: 'viewer' });
  });

  it('turns the error envelope into an ApiError', async () => {
    fakeApi({ 'GET /api/v1/datasets/x': () => ({ status: 404, body: { error: { code: 'not_found', message: 'dataset default/x not found', request_id: 'r' } } }) });
    const err = await api.dataset({ namespace: 'default', name: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 404, code: 'not_found', message: 'dataset default/x not found' });
  });

  it('leaves empty query parameters out and encodes the rest', async () => {
    const calls = fakeApi({ 'GET /api/v1/search': { items: [], facets: {}, total: 0, next_cursor: null } });
    await api.search({ q: 'a b&c', domain: '', tag: undefined, limit: 20 });
    expect(calls[0].url.search).toBe('?q=a+b%26c&limit=20');
  });
});
