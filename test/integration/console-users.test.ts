// Console accounts: managers manage them from the console (the last manager stays), everyone changes their own
// password, and `oag users` makes the first manager from a prompt or standard input. Passwords are stored only as
// scrypt hashes.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openConsoleDb } from '../../gateway/console/db.js';
import { hashPassword, verifyPassword } from '../../kit/auth/passwords.js';
import { openStore } from '../../gateway/store/index.js';
import { runUsersAdd, runUsersList, runUsersPasswd, runUsersRemove } from '../../scripts/commands/users.js';
import type { UsersIo } from '../../scripts/commands/users.js';
import { PASSWORD, startConsole } from '../helpers/console.js';
import type { ConsoleHarness } from '../helpers/console.js';
import { removeDir } from '../helpers/gateway-harness.js';

let c: ConsoleHarness | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await c?.stop();
  c = undefined;
  for (const dir of dirs.splice(0)) removeDir(dir);
});

describe('accounts in the console', () => {
  it('lets a manager add, re-role, reset and remove accounts, keeps the last manager, and audits each change', async () => {
    c = await startConsole();
    await c.addUser('mia', 'manager');
    const mia = await c.login('mia');
    const added = await c.call(mia, 'POST', '/api/console/users', { username: ' Sam.Jones ', role: 'staff', password: 'a long first password' });
    expect(added.statusCode).toBe(201);
    expect(added.json()).toMatchObject({ username: 'sam.jones', role: 'staff', lastLoginAt: null });
    expect(added.json().passwordHash).toBeUndefined();
    const twice = await c.call(mia, 'POST', '/api/console/users', { username: 'sam.jones', role: 'manager', password: 'a long first password' });
    expect(twice.statusCode).toBe(409);

    const sam = await c.login('sam.jones', 'a long first password');
    expect(sam.username).toBe('sam.jones');
    const list = (await c.call(mia, 'GET', '/api/console/users')).json().users;
    expect(list.map((u: { username: string; role: string }) => [u.username, u.role])).toEqual([
      ['mia', 'manager'],
      ['sam.jones', 'staff'],
    ]);

    const demoteLast = await c.call(mia, 'PATCH', '/api/console/users/mia', { role: 'staff' });
    expect(demoteLast.statusCode).toBe(409);
    expect(demoteLast.json().error).toMatch(/only manager/);
    expect((await c.call(mia, 'DELETE', '/api/console/users/mia')).statusCode).toBe(409);
    expect((await c.call(mia, 'DELETE', '/api/console/users/nobody')).statusCode).toBe(404);
    expect((await c.call(mia, 'PATCH', '/api/console/users/sam.jones', {})).json().errors).toEqual(['(root): give role or password']);

    expect((await c.call(mia, 'PATCH', '/api/console/users/sam.jones', { role: 'manager' })).json()).toMatchObject({ role: 'manager' });
    // The new role counts at once, in the session already open.
    expect((await c.call(sam, 'GET', '/api/console/users')).statusCode).toBe(200);
    const reset = await c.call(mia, 'PATCH', '/api/console/users/sam.jones', { password: 'a brand new password' });
    expect(reset.statusCode).toBe(200);
    expect((await c.call(sam, 'GET', '/api/console/state')).statusCode).toBe(401);
    await c.login('sam.jones', 'a brand new password');
    expect((await c.call(mia, 'PATCH', '/api/console/users/mia', { role: 'staff' })).statusCode).toBe(200);
    const samAgain = await c.login('sam.jones', 'a brand new password');
    expect((await c.call(samAgain, 'DELETE', '/api/console/users/mia')).statusCode).toBe(200);

    const audit = c.harness.events.flatMap((e) => (e.type === 'staff' && !e.action.startsWith('login') ? [`${e.actor} ${e.action}`] : []));
    expect(audit).toEqual(['mia user-add:sam.jones:staff', 'mia user-role:sam.jones:manager', 'mia user-password:sam.jones', 'mia user-role:mia:staff', 'sam.jones user-remove:mia']);
  });

  it('lets anyone change their own password with the current one, ending their other sessions', async () => {
    c = await startConsole();
    await c.addUser('sam', 'staff');
    const desk = await c.login('sam');
    const tablet = await c.login('sam');
    const wrong = await c.call(desk, 'POST', '/api/console/password', { current: 'not it at all', password: 'a new long password' });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json().errors).toEqual(['current: is not your current password']);
    const short = await c.call(desk, 'POST', '/api/console/password', { current: PASSWORD, password: 'short' });
    expect(short.json().errors).toEqual(['password: must be at least 10 characters']);
    expect((await c.call(desk, 'POST', '/api/console/password', { current: PASSWORD, password: 'a new long password' })).statusCode).toBe(200);
    expect((await c.call(desk, 'GET', '/api/console/state')).statusCode).toBe(200);
    expect((await c.call(tablet, 'GET', '/api/console/state')).statusCode).toBe(401);
    await expect(c.login('sam')).rejects.toThrow(/401/);
    await c.login('sam', 'a new long password');
  });
});

describe('passwords', () => {
  it('are scrypt hashes with their parameters and a salt each, and verify only the right password', async () => {
    const a = await hashPassword('correct horse battery');
    const b = await hashPassword('correct horse battery');
    expect(a).toMatch(/^scrypt\$ln=15,r=8,p=3\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword('correct horse battery', a)).toBe(true);
    expect(await verifyPassword('correct horse batterY', a)).toBe(false);
    expect(await verifyPassword('correct horse battery', 'plain text')).toBe(false);
  });
});

describe('oag users', () => {
  function io(stdin = ''): UsersIo & { out: (t: string) => void; text: { out: string; err: string } } {
    const text = { out: '', err: '' };
    return { text, out: (t) => (text.out += t), err: (t) => (text.err += t), readStdin: async () => stdin, askHidden: undefined };
  }
  function tempStore(): string {
    const dir = mkdtempSync(join(tmpdir(), 'oag-users-'));
    dirs.push(dir);
    return join(dir, 'gateway.sqlite');
  }

  it('adds the first manager with the password from stdin, lists, resets and removes accounts', async () => {
    const store = tempStore();
    const first = io('first manager password\n');
    expect(await runUsersAdd({ store, username: 'Mia', role: 'manager', passwordStdin: true }, first)).toBe(0);
    expect(first.text.out).toContain('added manager "mia"');
    expect(await runUsersAdd({ store, username: 'sam', role: 'staff', passwordStdin: true }, io('staff password 123'))).toBe(0);

    const listed = io();
    expect(await runUsersList({ store }, listed)).toBe(0);
    expect(listed.text.out).toMatch(/^username\s+role\s+last sign-in\nmia\s+manager\s+never\nsam\s+staff\s+never\n$/);

    const s = openStore(store);
    const db = openConsoleDb(s);
    const hash = db.prepare<[], string>("SELECT password_hash FROM console_users WHERE username = 'mia'").pluck().get()!;
    db.close();
    s.close();
    expect(await verifyPassword('first manager password', hash)).toBe(true);
    expect(readFileSync(store).toString('latin1')).not.toContain('first manager password');

    expect(await runUsersPasswd({ store, username: 'mia', passwordStdin: true }, io('a replacement password'))).toBe(0);
    const removeLast = io();
    expect(await runUsersRemove({ store, username: 'mia' }, removeLast)).toBe(1);
    expect(removeLast.text.err).toMatch(/only manager/);
    expect(await runUsersRemove({ store, username: 'sam' }, io())).toBe(0);
  });

  it('refuses bad input by name and changes nothing', async () => {
    const store = tempStore();
    const badRole = io('password long enough');
    expect(await runUsersAdd({ store, username: 'mia', role: 'admin', passwordStdin: true }, badRole)).toBe(2);
    expect(badRole.text.err).toMatch(/^role: must be one of "staff", "manager"/);
    const short = io('short');
    expect(await runUsersAdd({ store, username: 'mia', role: 'manager', passwordStdin: true }, short)).toBe(2);
    expect(short.text.err).toBe('password: must be at least 10 characters\n');
    const noTerminal = io();
    expect(await runUsersAdd({ store, username: 'mia', role: 'manager' }, noTerminal)).toBe(2);
    expect(noTerminal.text.err).toMatch(/--password-stdin/);
    const noStore = io();
    expect(await runUsersList({}, noStore)).toBe(2);
    expect(noStore.text.err).toMatch(/--store PATH/);
    const asked: string[] = [];
    const mismatch = { ...io(), askHidden: async (q: string) => (asked.push(q), asked.length === 1 ? 'one long password' : 'another long one') };
    expect(await runUsersAdd({ store, username: 'mia', role: 'manager' }, mismatch)).toBe(2);
    expect(asked).toEqual(['Password: ', 'Password again: ']);
    // Nothing was even created.
    const listed = io();
    expect(await runUsersList({ store }, listed)).toBe(2);
    expect(listed.text.err).toMatch(/no store there/);
  });
});
