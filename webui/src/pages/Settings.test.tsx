import { fireEvent, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fakeApi, ME_ADMIN, renderAt } from '../test-utils';
import { ApiKeys } from './Settings';

afterEach(() => vi.unstubAllGlobals());

describe('API keys', () => {
  it('shows a new secret once and revokes a key after confirmation', async () => {
    const keys = [{ id: 'k1', name: 'old', role: 'editor', type: 'service', prefix: 'aaaaaaaaaaaa', created_at: '2026-01-01T00:00:00Z', created_by: null, expires_at: null, last_used_at: null, revoked_at: null as string | null }];
    const calls = fakeApi({
      'GET /api/v1/me': ME_ADMIN,
      'GET /api/v1/api-keys': () => ({ body: { items: keys, next_cursor: null } }),
      'POST /api/v1/api-keys': () => ({ status: 201, body: { id: 'k2', name: 'ci', key: 'mf_live_bbbbbbbbbbbb_secret' } }),
      'DELETE /api/v1/api-keys/k1': () => ((keys[0].revoked_at = '2026-01-02T00:00:00Z'), { status: 204 }),
    });
    sessionStorage.setItem('mf.api_key', 'mf_live_admin');
    renderAt(<ApiKeys />);
    await screen.findByText('old');
    fireEvent.change(screen.getByRole('textbox', { name: /Name/ }), { target: { value: 'ci' } });
    fireEvent.click(screen.getByRole('button', { name: 'Create key' }));
    expect((await screen.findByTestId('new-key-secret')).textContent).toBe('mf_live_bbbbbbbbbbbb_secret');
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({ name: 'ci', role: 'viewer', type: 'service' });
    fireEvent.click(screen.getByRole('button', { name: 'Done' }));
    expect(screen.queryByTestId('new-key-secret')).toBeNull();

    vi.stubGlobal('confirm', () => true);
    fireEvent.click(screen.getByRole('button', { name: 'Revoke' }));
    await waitFor(() => expect(screen.getByText('revoked')).toBeTruthy());
  });
});
