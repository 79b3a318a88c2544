// Every failure path gives its connection back. Kysely releases a
// transaction's connection only after its ROLLBACK succeeded; when ROLLBACK
// itself fails the connection is never released. That happens for real:
// SQLite rolls a transaction back on its own when the disk fills up
// (SQLITE_FULL), so the ROLLBACK that follows fails with "no transaction is
// active", and the single SQLite connection then stays taken for as long as
// the process lives; on MySQL a ROLLBACK fails when the connection died, and
// the pool loses that slot for good. Here a failed ROLLBACK is logged and
// counts as done: the transaction is over either way (the server rolled it
// back, or its connection is gone), and the connection is released.
import type { Configuration } from '@mikro-orm/core';
import { MySqlConnection, MySqlDriver } from '@mikro-orm/mysql';
import type { Dialect, Driver } from 'kysely';

type RollbackFailure = (error: unknown) => void;

export function releaseOnFailedRollback<D extends Dialect>(
  dialect: D,
  onFailure: RollbackFailure,
): D {
  const createDriver = dialect.createDriver.bind(dialect);
  dialect.createDriver = (): Driver => {
    const driver = createDriver();
    const rollback = driver.rollbackTransaction.bind(driver);
    driver.rollbackTransaction = async (connection) => {
      try {
        await rollback(connection);
      } catch (error) {
        onFailure(error);
      }
    };
    return driver;
  };
  return dialect;
}

/**
 * MikroORM's MySQL driver with the same guard on the dialect it builds (its
 * pool settings, type handling and abort support stay MikroORM's own).
 */
export function mysqlDriverReleasingOnFailedRollback(onFailure: RollbackFailure) {
  class Connection extends MySqlConnection {
    override async createKyselyDialect(
      overrides: Parameters<MySqlConnection['createKyselyDialect']>[0],
    ) {
      return releaseOnFailedRollback(await super.createKyselyDialect(overrides), onFailure);
    }
  }
  return class Driver extends MySqlDriver {
    constructor(config: Configuration) {
      super(config);
      // MySqlDriver hard-codes its connection class; swap it before anything connects.
      Reflect.set(this, 'connection', new Connection(this.config));
    }
  };
}
