/**
 * Test preload (node --import) for the kill -9 tests: after the registry writes a model file,
 * still inside the saving transaction, it says so on stderr and holds the transaction open for
 * PAUSE_BEFORE_COMMIT_MS, so the test can kill the process between the write and the COMMIT.
 * It patches better-sqlite3 in the child process only; production code has no hook for it.
 */
import Database from 'better-sqlite3';

const pauseMs = Number(process.env.PAUSE_BEFORE_COMMIT_MS ?? 0);
const prepare = Database.prototype.prepare;
Database.prototype.prepare = function (this: Database.Database, sql: string) {
  const statement = prepare.call(this, sql) as Database.Statement;
  if (/INSERT INTO model_files/.test(sql)) {
    const run = statement.run.bind(statement);
    statement.run = (...params: unknown[]) => {
      const result = run(...params);
      process.stderr.write(`test hook: model ${String(params[0])} written, holding the transaction open ${pauseMs} ms before COMMIT\n`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, pauseMs);
      return result;
    };
  }
  return statement;
} as typeof Database.prototype.prepare;
