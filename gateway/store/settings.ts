// Small pieces of state that must survive a restart (lockdown, occupancy, alarms, the policy in force), as JSON.
import type BetterSqlite3 from 'better-sqlite3';
import { StoreError } from './errors.js';
import type { Parser } from './types.js';

export class SettingsStore {
  private readonly getStmt;
  private readonly setStmt;
  private readonly deleteStmt;

  constructor(db: BetterSqlite3.Database) {
    this.getStmt = db.prepare<[string], string>('SELECT value FROM settings WHERE key = ?').pluck();
    this.setStmt = db.prepare<[string, string]>(
      'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    );
    this.deleteStmt = db.prepare<[string]>('DELETE FROM settings WHERE key = ?');
  }

  /**
   * The saved value, or undefined. With a schema (zod, or anything with `parse`), the value is checked and a value
   * that no longer fits throws a StoreError naming the key, rather than restoring state that is not understood.
   */
  get<T>(key: string, schema?: Parser<T>): T | undefined {
    const text = this.getStmt.get(key);
    if (text === undefined) return undefined;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new StoreError(`setting "${key}": stored value is not valid JSON`);
    }
    if (schema === undefined) return value as T;
    try {
      return schema.parse(value);
    } catch (error) {
      throw new StoreError(`setting "${key}": stored value does not fit its schema: ${(error as Error).message}`, { cause: error });
    }
  }

  set(key: string, value: unknown): void {
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError(`setting "${key}": value cannot be stored as JSON`);
    this.setStmt.run(key, text);
  }

  delete(key: string): boolean {
    return this.deleteStmt.run(key).changes > 0;
  }
}
