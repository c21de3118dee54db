import { fireEvent, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { App } from './App';
import { apiKey } from './api';
import { fakeApi, ME_ADMIN, renderAt } from './test-utils';

afterEach(() => vi.unstubAllGlobals());

const UNAUTHORIZED = () => ({ status: 401, body: { error: { code: 'unauthorized', message: 'a valid API key is required', request_id: 'r' } } });
const FORBIDDEN = () => ({ status: 403, body: { error: { code: 'forbidden', message: 'this needs the viewer role', request_id: 'r' } } });

describe('sign-in and roles', () => {
  it('sends a signed-out visitor to the sign-in page and signs in with an API key', async () => {
    let signedIn = false;
    const calls = fakeApi({
      'GET /api/v1/me': () => (signedIn ? { body: ME_ADMIN } : UNAUTHORIZED),
      'GET /api/v1/stats': { datasets: 0, fields: 0, lineage_edges: 0, column_lineage_edges: 0, tags: 0, domains: 0, owners: 0, glossary_terms: 0, top_formats: [], top_domains: [] },
      'GET /api/v1/datasets': { items: [], next_cursor: null },
    });
    renderAt(<App />, '/glossary');
    fireEvent.change(await screen.findByLabelText('API key'), { target: { value: 'mf_live_k' } });
    signedIn = true;
    fireEvent.click(screen.getByRole('button', { name: 'Sign in with API key' }));
    expect(await screen.findByRole('button', { name: 'Sign out' })).toBeTruthy();
    expect(apiKey()).toBe('mf_live_k');
    expect(calls.at(-1)?.headers.Authorization).toBe('Bearer mf_live_k');
    expect(screen.getByRole('link', { name: 'Settings' })).toBeTruthy();
  });

  it('refuses a key the API does not accept and keeps nothing', async () => {
    fakeApi({ 'GET /api/v1/me': UNAUTHORIZED });
    renderAt(<App />, '/signin');
    fireEvent.change(await screen.findByLabelText('API key'), { target: { value: 'mf_live_bad' } });
    fireEvent.click(screen.getByRole('button', { name: 'Sign in with API key' }));
    expect((await screen.findByRole('alert')).textContent).toContain('not accepted');
    expect(apiKey()).toBeNull();
  });

  it('shows a viewer no admin settings', async () => {
    fakeApi({ 'GET /api/v1/me': { ...ME_ADMIN, role: 'viewer' }, 'GET /api/v1/api-keys': { items: [], next_cursor: null } });
    sessionStorage.setItem('mf.api_key', 'mf_live_v');
    renderAt(<App />, '/settings/members');
    expect(await screen.findByText('This page needs the tenant admin role.')).toBeTruthy();
    expect(screen.queryByRole('link', { name: 'Members' })).toBeNull();
    expect(screen.queryByRole('link', { name: 'Settings' })).toBeNull();
    expect(screen.getAllByRole('link', { name: 'API keys' })).toHaveLength(2); // main menu and settings menu
  });

  it('gives a platform key the admin console only', async () => {
    fakeApi({
      'GET /api/v1/me': FORBIDDEN,
      'GET /api/v1/admin/tenants': { items: [{ id: 't1', name: 'acme', plan: 'team', status: 'suspended', created_at: '2026-01-01T00:00:00Z', purge_after: null }], next_cursor: null },
    });
    sessionStorage.setItem('mf.api_key', 'mf_live_platform');
    renderAt(<App />, '/');
    expect(await screen.findByRole('heading', { name: 'Tenants' })).toBeTruthy();
    await waitFor(() => expect(screen.getByTestId('tenant-status').textContent).toBe('suspended'));
    expect(screen.getByRole('button', { name: 'Reactivate' })).toBeTruthy();
    expect(screen.queryByRole('link', { name: 'Search' })).toBeNull();
  });

  it('sends single sign-on through /auth/login with the tenant and the page to return to', async () => {
    fakeApi({ 'GET /api/v1/me': UNAUTHORIZED });
    const assign = vi.fn();
    vi.stubGlobal('location', { ...window.location, assign });
    renderAt(<App />, '/datasets/default/orders');
    fireEvent.change(await screen.findByLabelText('Organisation'), { target: { value: 'demo' } });
    fireEvent.click(screen.getByRole('button', { name: 'Sign in with single sign-on' }));
    expect(assign).toHaveBeenCalledWith('/auth/login?tenant=demo&return_to=%2Fdatasets%2Fdefault%2Forders');
  });
});
