// A traced statement never shows a value, and a bulk insert's span stays small.
import { describe, expect, test } from 'vitest';
import { maskStatement } from '../../lib/telemetry/statements.ts';

describe('statements as spans keep them', () => {
  test('when a statement holds values, then each becomes a placeholder', () => {
    expect(
      maskStatement(
        'select `id` from `users` where `email` = \'a@example.com\' and `id` = 42 and `note` = "it\\"s"',
      ),
    ).toBe('select `id` from `users` where `email` = ? and `id` = ? and `note` = ?');
  });

  test('when a multi-row insert is traced, then its rows show as the first and an ellipsis', () => {
    const rows = Array.from(
      { length: 500 },
      (_, i) => `(${i}, 'Mozilla/5.0 (X11; Linux) ${i}', NULL)`,
    );
    const masked = maskStatement(
      `insert into \`visits\` (\`id\`, \`ua\`, \`x\`) values ${rows.join(', ')}`,
    );
    expect(masked).toBe('insert into `visits` (`id`, `ua`, `x`) values (?, ?, NULL), …');
  });

  test('when a statement is longer than is read, then no part of a value cut in two shows', () => {
    const secret = 'secret-token-value-'.repeat(1_000);
    const masked = maskStatement(`update \`tokens\` set \`hash\` = '${secret}' where \`id\` = 7`);
    expect(masked).toBe('update `tokens` set `hash` = …');
    expect(masked).not.toContain('secret');
  });

  test('when a long statement has no values, then it is cut to its first thousand characters', () => {
    const masked = maskStatement(`select ${'`c`, '.repeat(2_000)}1`);
    expect(masked.length).toBe(1_001);
    expect(masked.endsWith('…')).toBe(true);
  });
});
