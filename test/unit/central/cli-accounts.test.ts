// `oag central users add` and `oag central tokens add|list|revoke` against the store of a running central (from its
// config): what they make works at once, what they print is printed once, and bad input changes nothing.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCentralConfig, startCentral, type RunningCentral } from '../../../central/main.js';
import {
  runCentralTokensAdd,
  runCentralTokensList,
  runCentralTokensRevoke,
  runCentralUsersAdd,
  type CentralAuthIo,
} from '../../../scripts/commands/central-auth.js';
import { testSigningKey } from '../../helpers/signing-keys.js';

let dir: string;
let configFile: string;
let central: RunningCentral;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'oag-central-cli-'));
  configFile = join(dir, 'central.yaml');
  writeFileSync(join(dir, 'mqtt-passwords'), '');
  writeFileSync(configFile, `store: { path: data/central.sqlite }\nembedded: { port: 0, passwordFile: mqtt-passwords }\nhttp: { port: 0 }\nlog: { level: silent }\nsigning: { keyFile: ${JSON.stringify(testSigningKey().privateFile)} }\n`);
  central = await startCentral(loadCentralConfig(configFile), { clock: { now: () => new Date() }, logger: pino({ level: 'silent' }) });
});

afterAll(async () => {
  await central?.close();
  rmSync(dir, { recursive: true, force: true });
});

function io(answers: string[] = [], tty = false): CentralAuthIo & { stdout: string; stderr: string } {
  const out = { stdout: '', stderr: '' };
  return Object.assign(out, {
    out: (t: string) => void (out.stdout += t),
    err: (t: string) => void (out.stderr += t),
    askHidden: tty ? async () => answers.shift() ?? '' : undefined,
  });
}

const login = (username: string, password: string) =>
  fetch(`${central.httpUrl}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });

describe('oag central users add', () => {
  it('adds an administrator from a password file, who can sign in at the running central at once', async () => {
    writeFileSync(join(dir, 'pw'), 'a password from a file\nignored second line\n');
    const out = io();
    expect(await runCentralUsersAdd('Admin', { config: configFile, role: 'administrator', passwordFile: join(dir, 'pw') }, out)).toBe(0);
    expect(out.stdout).toBe(`${join(dir, 'data/central.sqlite')}: added admin, administrator\n`);
    expect((await login('admin', 'a password from a file')).status).toBe(200);
    expect((await central.auth.audit.query({ limit: 5 })).rows.map((r) => [r.actor.startsWith('cli'), r.action, r.detail])).toEqual([
      [false, 'sign-in', expect.stringMatching(/^password, as administrator/)],
      [true, 'user-add', 'user:admin as administrator'],
    ]);
  });

  it('makes a password and prints it once when there is no terminal to ask on; asks twice when there is', async () => {
    const made = io();
    expect(await runCentralUsersAdd('olivia', { config: configFile, role: 'operator' }, made)).toBe(0);
    const password = /password \(shown once\): (\S+)\n$/.exec(made.stdout)?.[1];
    expect(password).toMatch(/^[a-z2-9]{20}$/);
    expect((await login('olivia', password!)).status).toBe(200);

    const asked = io(['typed at the prompt', 'typed at the prompt'], true);
    expect(await runCentralUsersAdd('victor', { config: configFile, role: 'viewer' }, asked)).toBe(0);
    expect(asked.stdout).not.toContain('typed');
    expect((await login('victor', 'typed at the prompt')).status).toBe(200);
    const differ = io(['one password here', 'another password'], true);
    expect(await runCentralUsersAdd('wendy', { config: configFile, role: 'viewer' }, differ)).toBe(2);
    expect(differ.stderr).toBe('the two passwords differ; nothing changed\n');
  });

  it('refuses a bad name, role or password with exit 2, and a taken name with exit 1, changing nothing', async () => {
    writeFileSync(join(dir, 'short'), 'short\n');
    const bad = io();
    expect(await runCentralUsersAdd('no spaces please', { config: configFile, role: 'boss' }, bad)).toBe(2);
    expect(bad.stderr).toMatch(/^username: must be 2 to 58 letters/);
    const shortPw = io();
    expect(await runCentralUsersAdd('paul', { config: configFile, role: 'viewer', passwordFile: join(dir, 'short') }, shortPw)).toBe(2);
    expect(shortPw.stderr).toBe('password: must be at least 12 characters\n');
    const taken = io();
    expect(await runCentralUsersAdd('admin', { config: configFile, role: 'viewer', passwordFile: join(dir, 'pw') }, taken)).toBe(1);
    expect(taken.stderr).toBe('username: "admin" already has an account\n');
    expect((await central.auth.accounts.list()).map((u) => [u.username, u.role])).toEqual([
      ['admin', 'administrator'],
      ['olivia', 'operator'],
      ['victor', 'viewer'],
    ]);
  });
});

describe('oag central tokens', () => {
  it('adds a token printed once on stdout that the running central takes; list never shows it; revoke ends it', async () => {
    const made = io();
    expect(await runCentralTokensAdd({ config: configFile, name: 'nightly-export', role: 'viewer', expiresDays: '30' }, made)).toBe(0);
    const token = made.stdout.trim();
    expect(token).toMatch(/^oag_[a-z0-9]{12}_[\w-]{43}$/);
    expect(made.stderr).toMatch(/token nightly-export \(id [a-z0-9]{12}\), viewer, expires .*shown once/);
    const bearer = { authorization: `Bearer ${token}` };
    expect((await fetch(`${central.httpUrl}/api/sites`, { headers: bearer })).status).toBe(200);

    const listed = io();
    expect(await runCentralTokensList({ config: configFile }, listed)).toBe(0);
    expect(listed.stdout).toMatch(/nightly-export\s+viewer\s+active/);
    expect(listed.stdout).not.toContain(token.slice(17));

    const revoked = io();
    expect(await runCentralTokensRevoke('nightly-export', { config: configFile }, revoked)).toBe(0);
    expect(revoked.stdout).toMatch(/revoked nightly-export/);
    const refused = await fetch(`${central.httpUrl}/api/sites`, { headers: bearer });
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { message: string }).message).toBe('API token "nightly-export" was revoked');
  });

  it('refuses a token without an expiry within a year, or an unknown one to revoke', async () => {
    const long = io();
    expect(await runCentralTokensAdd({ config: configFile, name: 'forever', role: 'viewer', expiresDays: '3650' }, long)).toBe(2);
    expect(long.stderr).toBe('expiresDays: must be at most 365 (a year)\n');
    const nonsense = io();
    expect(await runCentralTokensAdd({ config: configFile, name: 'soon', role: 'viewer', expiresDays: 'soon' }, nonsense)).toBe(2);
    expect(nonsense.stderr).toMatch(/^expiresDays: /);
    const unknown = io();
    expect(await runCentralTokensRevoke('nobody', { config: configFile }, unknown)).toBe(1);
    expect(unknown.stderr).toMatch(/no token with the id or name "nobody"/);
    expect((await central.auth.tokens.list()).map((t) => t.name)).toEqual(['nightly-export']);
  });
});
