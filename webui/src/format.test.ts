import { describe, expect, it } from 'vitest';
import { nodeId, parseNodeId } from './api';
import { formatBytes, formatWhen, parseSnippet } from './format';

describe('parseSnippet', () => {
  it('splits marks and unescapes entities without parsing HTML', () => {
    expect(parseSnippet('default/<mark>orders</mark>_daily &lt;b&gt; &amp; more')).toEqual([
      { text: 'default/', mark: false },
      { text: 'orders', mark: true },
      { text: '_daily <b> & more', mark: false },
    ]);
  });
  it('keeps a snippet without marks whole', () => {
    expect(parseSnippet('plain')).toEqual([{ text: 'plain', mark: false }]);
  });
});

describe('formatting', () => {
  it.each([
    [0, '0 B'],
    [2048, '2.0 KB'],
    [5 * 1024 ** 3, '5.0 GB'],
    [300 * 1024 ** 2, '300 MB'],
  ])('formatBytes(%d) = %s', (n, want) => expect(formatBytes(n)).toBe(want));
  it('says how long ago', () => {
    const now = Date.parse('2026-01-10T12:00:00Z');
    expect(formatWhen('2026-01-10T11:59:30Z', now)).toBe('just now');
    expect(formatWhen('2026-01-10T09:00:00Z', now)).toBe('3 h ago');
    expect(formatWhen('2025-12-01T00:00:00Z', now)).toBe('2025-12-01');
    expect(formatWhen(null, now)).toBe('—');
  });
});

describe('lineage node ids', () => {
  it('percent-encodes ":" and "%" inside parts and round-trips', () => {
    const id = nodeId('dataset', 'postgres://db:5432', 'public.orders%x');
    expect(id).toBe('dataset:postgres%3A//db%3A5432:public.orders%25x');
    expect(parseNodeId(id)).toEqual({ kind: 'dataset', parts: ['postgres://db:5432', 'public.orders%x'] });
  });
});
