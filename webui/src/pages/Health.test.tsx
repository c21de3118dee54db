import { screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fakeApi, ME_ADMIN, renderAt } from '../test-utils';
import { HealthPage } from './Health';

afterEach(() => vi.unstubAllGlobals());

const figures = {
  datasets: 10, stale: 2, unused: 3, without_owner: 1, without_description: 4, failing_quality: 0,
  breaking_changes_7d: 1, documentation_coverage: 0.6, field_documentation_coverage: 0.25,
};

describe('the health page', () => {
  it('shows the summary, the trend charts, the owners and the empty lists', async () => {
    fakeApi({
      'GET /api/v1/me': ME_ADMIN,
      'GET /api/v1/analytics/health': {
        as_of: new Date().toISOString(),
        summary: figures,
        trend: [{ day: '2026-01-01', ...figures }, { day: '2026-01-02', ...figures, stale: 5 }],
        by_owner: [{ owner: null, ...figures }],
      },
      'GET /api/v1/freshness/violations': { items: [], next_cursor: null },
      'GET /api/v1/analytics/unused': { items: [{ namespace: 'default', name: 'old_table', last_read_day: null }], next_cursor: null },
    });
    renderAt(<HealthPage />);
    const summary = await screen.findByTestId('health-summary');
    expect(summary.textContent).toContain('Stale2');
    expect(summary.textContent).toContain('Documented datasets60%');
    expect(await screen.findByRole('img', { name: 'Stale datasets per day: 2 days, highest 5' })).toBeTruthy();
    expect(screen.getByText('(no owner)')).toBeTruthy();
    expect(await screen.findByText('Every dataset with a freshness policy is on time.')).toBeTruthy();
    expect(screen.getByRole('link', { name: 'old_table' }).getAttribute('href')).toBe('/datasets/default/old_table?tab=usage');
    expect(screen.getByText('never read')).toBeTruthy();
  });
});
