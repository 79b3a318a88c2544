// Queries reach MariaDB formatted once: MikroORM formats every query with its
// values, and the driver leaves a query without values as it is (its own
// scan for placeholders would read `?` in a literal as one), while a query
// sent with values straight to the driver is still formatted as mysql2 does.
import { format } from 'mysql2';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { formatOnlyWithValues, type Orm, openDatabase } from '../../lib/db/open.ts';
import { linkSchema } from '../../services/link/store/schema.ts';
import { dropDatabases } from '../support/databases.ts';
import { MYSQL_URL, uniqueName } from '../support/env.ts';
import { testLog } from '../support/logger.ts';

const connection = { config: { stringifyObjects: false, timezone: 'local' } };

describe('formatting queries for MariaDB', () => {
  const name = uniqueName('query_format');
  let orm: Orm;

  beforeAll(async () => {
    orm = await openDatabase({ url: `${MYSQL_URL}/${name}`, schema: linkSchema, log: testLog });
  });
  afterAll(async () => {
    await orm?.close();
    await dropDatabases([name]);
  });

  test('when a query has no values, then it is sent as written, placeholders in literals included', () => {
    const sql = "select 'what? it''s \\\\ here ?' as `a`, ? as `b`";
    expect(formatOnlyWithValues.call(connection, sql, [])).toBe(sql);
    expect(formatOnlyWithValues.call(connection, sql, undefined)).toBe(sql);
  });

  test('when a query has values, then it is formatted as mysql2 formats it', () => {
    const sql = 'select ? as `a`, ? as `b`, ? as `c`';
    const values = ["it's ? \\ \n", null, Buffer.from([0, 39, 92])];
    expect(formatOnlyWithValues.call(connection, sql, values)).toBe(
      format(sql, values, false, 'local'),
    );
  });

  test('when MikroORM binds awkward values, then MariaDB receives each exactly', async () => {
    const text = "quote ' backslash \\ question ? percent % newline \n end";
    const bytes = Buffer.from([0, 39, 92, 63, 255]);
    const rows = await orm.em
      .fork()
      .getConnection()
      .execute<Record<string, unknown>[]>(
        'select ? as `text`, ? as `bytes`, ? as `nothing`, ? as `number`',
        [text, bytes, null, 42],
      );
    expect(rows[0]?.text).toBe(text);
    expect(Buffer.from(rows[0]?.bytes as Buffer).equals(bytes)).toBe(true);
    expect(rows[0]?.nothing).toBeNull();
    expect(Number(rows[0]?.number)).toBe(42);
  });

  test('when a query goes straight to the driver with values, then they are still bound', async () => {
    const pool = (await orm.em.getConnection().getNativeClient()) as {
      query(sql: string, values: unknown[], done: (error: unknown, rows: unknown) => void): void;
    };
    const rows = await new Promise<Record<string, unknown>[]>((resolve, reject) =>
      pool.query('select ? as `a`, ? as `b`', ["it's ?", 7], (error, result) =>
        error ? reject(error) : resolve(result as Record<string, unknown>[]),
      ),
    );
    expect(rows[0]).toEqual({ a: "it's ?", b: 7 });
  });
});
