import { describe, expect, it } from 'vitest';
import { layeredLayout } from './dagLayout';

const box = (id: string) => ({ id, width: 40, height: 20 });

describe('layeredLayout', () => {
  it('puts each node one column right of its furthest upstream', () => {
    const p = layeredLayout(['a', 'b', 'c', 'd'].map(box), [
      { from: 'a', to: 'b' },
      { from: 'b', to: 'c' },
      { from: 'a', to: 'c' },
      { from: 'c', to: 'd' },
    ]);
    const xs = ['a', 'b', 'c', 'd'].map((id) => p.get(id)!.x);
    expect(xs).toEqual([...xs].sort((m, n) => m - n));
    expect(new Set(xs).size).toBe(4);
  });

  it('terminates on cycles and places every node once', () => {
    const p = layeredLayout(['a', 'b', 'c'].map(box), [
      { from: 'a', to: 'b' },
      { from: 'b', to: 'c' },
      { from: 'c', to: 'a' },
      { from: 'b', to: 'b' },
      { from: 'b', to: 'missing' },
    ]);
    expect([...p.keys()].sort()).toEqual(['a', 'b', 'c']);
  });

  it('keeps nodes of one column apart and uncrosses a simple case', () => {
    // a1 -> b2, a2 -> b1 as given: the sweeps order column b like column a.
    const p = layeredLayout(['a1', 'a2', 'b1', 'b2'].map(box), [
      { from: 'a1', to: 'b2' },
      { from: 'a2', to: 'b1' },
    ]);
    expect(Math.abs(p.get('a1')!.y - p.get('a2')!.y)).toBeGreaterThanOrEqual(20);
    expect(Math.sign(p.get('a1')!.y - p.get('a2')!.y)).toBe(Math.sign(p.get('b2')!.y - p.get('b1')!.y));
  });

  it('lays out 500 nodes quickly', () => {
    const nodes = Array.from({ length: 500 }, (_, i) => box(`n${i}`));
    const edges = [];
    for (let i = 1; i < 500; i++) {
      edges.push({ from: `n${Math.floor((i - 1) / 3)}`, to: `n${i}` });
      if (i % 7 === 0) edges.push({ from: `n${i - 1}`, to: `n${i}` });
    }
    const t = performance.now();
    const p = layeredLayout(nodes, edges);
    expect(performance.now() - t).toBeLessThan(500);
    expect(p.size).toBe(500);
  });
});
