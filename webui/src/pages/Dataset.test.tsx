import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { SchemaDiff } from '../api';
import { breakingReason, DiffView, FieldClasses } from './Dataset';

const f = (name: string, type: string, nullable = true) => ({ name, type, nullable, description: '', tags: [] });

const diff: SchemaDiff = {
  from: 1,
  to: 2,
  added: [f('added_at', 'timestamp')],
  removed: [f('amount', 'numeric')],
  changed: [
    { name: 'id', from: { type: 'bigint', nullable: false }, to: { type: 'text', nullable: false } },
    { name: 'note', from: { type: 'text', nullable: false }, to: { type: 'text', nullable: true } },
  ],
  breaking: true,
};

describe('the schema diff', () => {
  it('names why a change breaks readers', () => {
    expect(breakingReason(diff, 'amount')).toBe('removed');
    expect(breakingReason(diff, 'id')).toBe('type bigint → text');
    expect(breakingReason(diff, 'note')).toBeNull(); // made nullable: not breaking
    expect(breakingReason(diff, 'added_at')).toBeNull();
  });

  it('shows both versions side by side with the breaking changes marked', () => {
    render(
      <DiffView
        diff={diff}
        left={[f('id', 'bigint', false), f('amount', 'numeric'), f('note', 'text', false)]}
        right={[f('id', 'text', false), f('note', 'text'), f('added_at', 'timestamp')]}
      />,
    );
    expect(screen.getByRole('status').textContent).toBe('Breaking changes: 1 added, 1 removed, 2 changed.');
    expect(screen.getByRole('heading', { name: 'Version 1' })).toBeTruthy();
    expect(screen.getByRole('heading', { name: 'Version 2' })).toBeTruthy();
    const removed = document.querySelector('tr[data-state=removed]')!;
    expect(removed.textContent).toContain('amount');
    expect(removed.textContent).toContain('breaking: removed');
    const added = document.querySelector('tr[data-state=added]')!;
    expect(added.textContent).toContain('added_at');
    expect(added.textContent).not.toContain('breaking');
    expect(screen.getAllByText('breaking: type bigint → text').length).toBeGreaterThan(0);
    expect(screen.queryByText(/breaking: .*nullable/)).toBeNull();
  });

  it('says when nothing breaks', () => {
    render(<DiffView diff={{ ...diff, removed: [], changed: [], breaking: false }} left={[]} right={[f('added_at', 'timestamp')]} />);
    expect(screen.getByRole('status').textContent).toBe('No breaking change: 1 added, 0 removed, 0 changed.');
  });
});

describe("a field's classes", () => {
  it('shows the standing ones, suggested marked, rejected left out', () => {
    const cls = (c: string, status: 'suggested' | 'verified' | 'rejected', sensitivity = 'confidential') =>
      ({ class: c, sensitivity, source: 'rule' as const, status, may_be_anonymised: c === 'pii.phone' });
    const { container } = render(
      <FieldClasses classes={[cls('pii.email', 'verified'), cls('pii.phone', 'suggested', 'internal'), cls('pii.name', 'rejected')]} />,
    );
    expect([...container.querySelectorAll('[data-class]')].map((e) => e.textContent)).toEqual(['pii.email', 'pii.phone?']);
    expect(container.querySelector('[data-class="pii.phone"]')!.getAttribute('title')).toBe(
      'internal; suggested (rule); may be anonymised upstream',
    );
  });
});
