import { render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Dataset } from '../api';
import { fakeApi, ME_ADMIN, renderAt } from '../test-utils';
import { QualityScore, QualityTab } from './DatasetInsights';

afterEach(() => vi.unstubAllGlobals());

describe('the quality score', () => {
  it('says the score and how many checks fail', () => {
    const { container } = render(
      <QualityScore summary={{ score: 66.67, checks: 3, failing: 1, last_result_at: '2026-11-27T02:00:00.000Z' }} />,
    );
    expect(container.textContent).toBe('Quality score 66.67 / 100: 1 of 3 checks failing');
  });

  it('shows nothing without results', () => {
    const { container } = render(<QualityScore summary={{ score: null, checks: 0, failing: 0, last_result_at: null }} />);
    expect(container.textContent).toBe('');
  });

  it('reads the summary of the dataset on the quality tab', async () => {
    const calls = fakeApi({
      'GET /api/v1/me': ME_ADMIN,
      'GET /api/v1/datasets/orders/quality': { items: [], next_cursor: null },
      'GET /api/v1/datasets/orders/quality/summary': { score: 100, checks: 1, failing: 0, last_result_at: null },
    });
    const ds = { namespace: 'default', name: 'orders', version: 1 } as Dataset;
    renderAt(<QualityTab ds={ds} />);
    await waitFor(() => expect(screen.getByTestId('quality-score').textContent).toBe('Quality score 100 / 100: 0 of 1 check failing'));
    expect(calls.some((c) => c.url.pathname.endsWith('/quality/summary') && c.url.searchParams.get('namespace') === 'default')).toBe(true);
  });
});
