// The console shares the gateway's process, so it must never wait on a store lock by sleeping the door's thread:
// a lock held by another process (a member import) is a 503 that says so, and nothing changes.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { startConsole } from '../helpers/console.js';
import type { ConsoleHarness } from '../helpers/console.js';

let c: ConsoleHarness | undefined;
let other: Database.Database | undefined;
afterEach(async () => {
  if (other?.inTransaction) other.exec('ROLLBACK');
  other?.close();
  other = undefined;
  await c?.stop();
  c = undefined;
});

describe('the console while another process holds the store', () => {
  it('answers 503 naming the held lock at sign-in, changes nothing, and signs in once the lock is gone', async () => {
    c = await startConsole({ members: { '04A1B2C3D4': {} } });
    await c.addUser('sam', 'manager');
    other = new Database(join(c.harness.dir, 'gateway.sqlite'));
    other.exec('BEGIN IMMEDIATE');

    const refused = await c.app.inject({ method: 'POST', url: '/api/console/login', payload: { username: 'sam', password: 'correct horse battery' } });
    expect(refused.statusCode).toBe(503);
    expect(refused.json().error).toMatch(/another process holds the store’s write lock; nothing was changed/);
    expect(refused.cookies).toEqual([]);
    // The door decided meanwhile: a member's tap is granted.
    c.harness.tap('04A1B2C3D4');
    expect(c.harness.doorRelayActive()).toBe(true);

    other.exec('COMMIT');
    const signedIn = await c.login('sam');
    expect(signedIn.csrf.length).toBeGreaterThan(0);
  });
});
