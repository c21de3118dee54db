import { fireEvent, screen, waitFor } from '@testing-library/react';
import { Route, Routes, useLocation } from 'react-router-dom';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fakeApi, renderAt } from '../test-utils';
import { SearchBox } from './SearchBox';

afterEach(() => vi.unstubAllGlobals());

function Where() {
  const loc = useLocation();
  return <output data-testid="where">{loc.pathname + loc.search}</output>;
}

function setup() {
  fakeApi({
    'GET /api/v1/me': { kind: 'key', role: 'viewer', tenant: { name: 'demo' } },
    'GET /api/v1/search/suggest': (url) => ({
      body: {
        items: url.searchParams.get('q') === 'ord'
          ? [
              { kind: 'dataset', name: 'orders_daily', namespace: 'default' },
              { kind: 'field', name: 'order_id', dataset: 'raw_orders', namespace: 'default' },
            ]
          : [],
      },
    }),
  });
  renderAt(
    <Routes>
      <Route path="*" element={<><SearchBox /><Where /></>} />
    </Routes>,
  );
  return screen.getByRole('combobox', { name: 'Search the catalog' });
}

describe('SearchBox', () => {
  it('suggests names while typing and opens one with the keyboard', async () => {
    const box = setup();
    fireEvent.change(box, { target: { value: 'ord' } });
    expect(await screen.findByRole('option', { name: /orders_daily/ })).toBeTruthy();
    expect(screen.getByRole('option', { name: /raw_orders\.order_id/ })).toBeTruthy();
    fireEvent.keyDown(box, { key: 'ArrowDown' });
    fireEvent.keyDown(box, { key: 'ArrowDown' });
    expect(screen.getByRole('option', { name: /raw_orders\.order_id/ }).getAttribute('aria-selected')).toBe('true');
    fireEvent.submit(box.closest('form')!);
    expect(screen.getByTestId('where').textContent).toBe('/datasets/default/raw_orders?tab=schema');
  });

  it('searches the typed text on Enter', async () => {
    const box = setup();
    fireEvent.change(box, { target: { value: 'custmer ltv' } });
    fireEvent.submit(box.closest('form')!);
    await waitFor(() => expect(screen.getByTestId('where').textContent).toBe('/search?q=custmer%20ltv'));
  });
});
