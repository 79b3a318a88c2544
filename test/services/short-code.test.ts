// Generated short codes: the length asked for, base62 only, every character
// equally likely (drawn from the CSPRNG without modulo bias), never a path
// the gateway keeps for itself, and no two alike across many draws.
import { expect, test } from 'vitest';
import { isReserved } from '../../lib/short-code-rules.ts';
import { randomCode } from '../../services/link/domain/short-code.ts';

const BASE62 = /^[0-9A-Za-z]+$/;

test('when many codes are drawn, then each has the length and alphabet asked for, none repeats and none is reserved', () => {
  const codes = Array.from({ length: 20_000 }, (_, i) => randomCode(5 + (i % 4)));
  codes.forEach((code, i) => {
    expect(code).toHaveLength(5 + (i % 4));
    expect(code).toMatch(BASE62);
    expect(isReserved(code)).toBe(false);
  });
  expect(new Set(codes).size).toBe(codes.length);
});

test('when many codes are drawn, then every character comes up about equally often', () => {
  const counts = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < 20_000; i++) {
    for (const char of randomCode(7)) {
      counts.set(char, (counts.get(char) ?? 0) + 1);
      total++;
    }
  }
  expect(counts.size).toBe(62);
  // Chi-square over 61 degrees of freedom: above 110 happens by chance in fewer than one run in 5,000.
  const expected = total / 62;
  const chiSquare = [...counts.values()].reduce(
    (sum, n) => sum + (n - expected) ** 2 / expected,
    0,
  );
  expect(chiSquare).toBeLessThan(110);
});
