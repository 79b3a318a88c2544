// The visitor sketch on its own: exact for few visitors, within its error for
// many, a union that counts a visitor once, and a stored form that survives a
// round trip in both its sparse and dense shapes.
import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { VisitorSketch } from '../../services/analytics/domain/visitor-sketch.ts';

const hashOf = (visitor: string) => createHash('sha256').update(visitor).digest('hex').slice(0, 16);

function sketchOf(visitors: Iterable<string>): VisitorSketch {
  const sketch = VisitorSketch.empty();
  for (const visitor of visitors) sketch.add(hashOf(visitor));
  return sketch;
}

const range = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => `visitor-${from + i}`);

describe('visitor sketch', () => {
  test('when few visitors are added, some more than once, then the estimate is exact', () => {
    for (let n = 0; n <= 60; n++) {
      const visitors = range(0, n);
      expect(sketchOf([...visitors, ...visitors.slice(0, n / 2)]).estimate()).toBe(n);
    }
  });

  test('when up to the sparse limit are added, then the estimate is within 1%', () => {
    for (const n of [100, 300, 1_000, 1_360]) {
      const estimate = sketchOf(range(0, n)).estimate();
      expect(Math.abs(estimate - n) / n).toBeLessThan(0.01);
    }
  });

  test('when many visitors are added, then the estimate is within 5% (three standard errors)', () => {
    for (const n of [1_500, 2_000, 5_000, 20_000, 200_000]) {
      const estimate = sketchOf(range(0, n)).estimate();
      expect(Math.abs(estimate - n) / n).toBeLessThan(0.05);
    }
  });

  test('when two days are merged, then a visitor seen on both counts once', () => {
    // Dense with dense, and dense with sparse.
    const monday = sketchOf(range(0, 3_000));
    const sunday = sketchOf(range(5_500, 6_000));
    const tuesday = sketchOf(range(2_000, 6_000));
    monday.merge(tuesday);
    monday.merge(sunday);
    expect(Math.abs(monday.estimate() - 6_000) / 6_000).toBeLessThan(0.05);
    // Sparse ones whose union turns dense.
    const first = sketchOf(range(0, 1_000));
    first.merge(sketchOf(range(900, 1_900)));
    expect(Math.abs(first.estimate() - 1_900) / 1_900).toBeLessThan(0.05);
    const small = sketchOf(['a', 'b', 'c']);
    small.merge(sketchOf(['c', 'd']));
    expect(small.estimate()).toBe(4);
  });

  test('when stored sketches are united from their bytes, then it is the same as merging them read back', () => {
    const days = [range(0, 40), range(30, 2_500), range(2_000, 2_600), range(5_000, 9_000)].map(
      (visitors) => sketchOf(visitors).encode(),
    );
    const merged = VisitorSketch.empty();
    for (const bytes of days) merged.merge(VisitorSketch.decode(bytes));
    const united = VisitorSketch.union([new Uint8Array(), ...days]);
    expect(united.estimate()).toBe(merged.estimate());
    expect(united.encode()).toEqual(merged.encode());
    // Reading a stored sketch and adding to it leaves the stored bytes alone.
    const stored = days[1] as Uint8Array;
    const copy = stored.slice();
    const read = VisitorSketch.decode(stored);
    read.merge(sketchOf(range(10_000, 12_000)));
    read.add(hashOf('one more'));
    expect(stored).toEqual(copy);
    expect(() => VisitorSketch.union([Uint8Array.of(7)])).toThrow(/not a visitor sketch/);
  });

  test('when dense sketches are united at any byte offset, then each register is the higher of the two', () => {
    const a = sketchOf(range(0, 3_000)).encode();
    const b = sketchOf(range(1_500, 6_000)).encode();
    // The bytes as a driver hands them over: a view into a larger buffer, at an odd offset.
    const packet = new Uint8Array(3 + b.length);
    packet.set(b, 3);
    const united = VisitorSketch.union([a, packet.subarray(3)]).encode();
    const expected = Uint8Array.from(a, (rank, i) => (i === 0 ? rank : Math.max(rank, b[i] ?? 0)));
    expect(united).toEqual(expected);
    expect(united).toEqual(sketchOf(range(0, 6_000)).encode());
    // Read from a driver's Buffer at an odd offset, then added to: a copy of its own, the stored bytes untouched.
    const packetBuffer = Buffer.alloc(3 + b.length);
    packetBuffer.set(b, 3);
    const stored = packetBuffer.subarray(3);
    const read = VisitorSketch.decode(stored);
    read.merge(sketchOf(range(0, 3_000)));
    read.add(hashOf('one more'));
    expect(Uint8Array.from(stored)).toEqual(b);
    expect(read.encode()).toEqual(
      VisitorSketch.union([united, sketchOf(['one more']).encode()]).encode(),
    );
    // A register no sketch can hold (ranks stay below 68) is refused, not merged into its neighbours.
    const corrupt = b.slice();
    corrupt[100] = 200;
    expect(() => VisitorSketch.union([a, corrupt])).toThrow(/not a visitor sketch/);
  });

  test('when a sketch is stored and read back, then it is the same sketch, sparse while small and dense once large', () => {
    const small = sketchOf(range(0, 100));
    const smallBytes = small.encode();
    expect(smallBytes.length).toBe(1 + 3 * 100);
    expect(VisitorSketch.decode(smallBytes).estimate()).toBe(small.estimate());
    const large = sketchOf(range(0, 50_000));
    const largeBytes = large.encode();
    expect(largeBytes.length).toBe(4_097);
    expect(VisitorSketch.decode(largeBytes).estimate()).toBe(large.estimate());
    expect(VisitorSketch.decode(new Uint8Array()).estimate()).toBe(0);
  });

  test('when the stored bytes or a hash are malformed, then it says so instead of counting wrong', () => {
    expect(() => VisitorSketch.decode(Uint8Array.of(1, 2))).toThrow(/not a visitor sketch/);
    expect(() => VisitorSketch.decode(Uint8Array.of(9))).toThrow(/not a visitor sketch/);
    expect(() => VisitorSketch.empty().add('xyz')).toThrow(/16 hex digits/);
  });
});
