// `oag central users add|list` and `oag central tokens add|list|revoke`: central's accounts and API tokens, in the
// store its config names (a running central sees them at once: it reads them on every request). The first
// administrator is made here; they manage everyone else from the dashboard's API. A password comes from
// --password-file, a hidden prompt, or is made and printed once; never from the command line, where `ps` and the
// shell history would keep it. A token is printed once, alone on standard output, for a script to capture.
import { mkdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import type { z } from 'zod';
import { validate } from '../../policies/errors.js';
import { readTextFile } from '../../kit/read-bounded.js';
import type { CentralAccounts } from '../../central/auth/accounts.js';
import type { CentralAudit } from '../../central/auth/audit.js';
import type { CentralTokens } from '../../central/auth/tokens.js';
import { storePathProblem, storeProblem } from './failure.js';
import { processIo, type CommandIo } from './schedule.js';
import { askHidden } from './ask-hidden.js';
import { runCommand, UsageError } from './cli-errors.js';

export interface CentralAuthIo extends CommandIo {
  /** A prompt that does not echo; undefined when there is no terminal to ask on. */
  askHidden: ((question: string) => Promise<string>) | undefined;
}

export interface CentralStoreOptions {
  config?: string | undefined;
}

export interface CentralUsersAddOptions extends CentralStoreOptions {
  role: string;
  passwordFile?: string | undefined;
}

export interface CentralTokensAddOptions extends CentralStoreOptions {
  name: string;
  role: string;
  expiresDays: string;
}

class Refused extends Error {}

/** Who the audit names for what this command does. */
function cliActor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli';
  }
}

function checked<T extends z.ZodType>(schema: T, value: unknown, name: string): z.output<T> {
  const result = validate(schema, value);
  if (!result.ok) throw new UsageError(result.errors.map((e) => `${name}${e.replace(/^\(root\)/, '')}`).join('\n'));
  return result.value as z.output<T>;
}

type AuthParts = {
  path: string;
  accounts: CentralAccounts;
  tokens: CentralTokens;
  audit: CentralAudit;
};

/** Central's store from its config (or the default), its auth tables made if new; closed after `fn`. */
async function withCentralAuth<T>(options: CentralStoreOptions, fn: (parts: AuthParts) => Promise<T>): Promise<T> {
  const { CentralConfigError, loadCentralConfig, parseCentralConfig } = await import('../../central/config.js');
  const { CentralStore } = await import('../../central/store.js');
  const { SqliteAuthStore } = await import('../../central/auth/auth-store.js');
  const { CentralAccounts } = await import('../../central/auth/accounts.js');
  const { CentralTokens } = await import('../../central/auth/tokens.js');
  const { CentralAudit } = await import('../../central/auth/audit.js');
  let config;
  try {
    config = options.config ? loadCentralConfig(options.config) : parseCentralConfig({});
  } catch (error) {
    if (error instanceof CentralConfigError) throw new UsageError(error.message);
    throw error;
  }
  const path = config.store.path;
  const bad = storePathProblem(path, 'central store');
  if (bad !== undefined) throw new UsageError(bad);
  let store;
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    store = new CentralStore(path);
  } catch (error) {
    const problem = storeProblem(path, error, 'central store');
    if (problem === undefined) throw error;
    throw new Refused(problem);
  }
  try {
    const clock = { now: () => new Date() };
    if (config.store.postgres === undefined) {
      const auth = new SqliteAuthStore(store.db);
      return await fn({ path, accounts: new CentralAccounts(auth, clock), tokens: new CentralTokens(auth, clock), audit: new CentralAudit(auth, clock) });
    }
    // Instances sharing PostgreSQL keep their accounts there: an account made in the SQLite file no instance would see.
    const { CentralDatabaseError, openCentralDatabase } = await import('../../central/history/open-history.js');
    const { PgAuthStore } = await import('../../central/auth/pg-auth-store.js');
    const { pino } = await import('pino');
    let database;
    try {
      database = await openCentralDatabase(config.store, store, pino({ level: 'warn' }, pino.destination(2)));
    } catch (error) {
      if (error instanceof CentralDatabaseError) throw new Refused(error.message);
      throw error;
    }
    try {
      const auth = new PgAuthStore(database.pool!);
      return await fn({ path: database.where, accounts: new CentralAccounts(auth, clock), tokens: new CentralTokens(auth, clock), audit: new CentralAudit(auth, clock) });
    } finally {
      await database.close();
    }
  } finally {
    store.close();
  }
}

function run(io: CommandIo, fn: () => Promise<void>): Promise<number> {
  return runCommand(io, fn, (error) => error instanceof Refused || (error instanceof Error && ['AccountError', 'TokenError'].includes(error.name)));
}

/** The password from a file (its first line), or asked twice on the terminal; undefined: make one. */
async function givenPassword(options: { passwordFile?: string | undefined }, io: CentralAuthIo): Promise<string | undefined> {
  const { NewPasswordSchema } = await import('../../central/auth/schemas.js');
  let password: string;
  if (options.passwordFile !== undefined) {
    const read = readTextFile(options.passwordFile, { what: options.passwordFile, maxBytes: 1024 });
    if (!read.ok) throw new UsageError(read.error);
    password = read.text.split(/\r?\n/)[0] ?? '';
  } else {
    if (io.askHidden === undefined) return undefined;
    password = await io.askHidden('Password (empty: central makes one): ');
    if (password === '') return undefined;
    const again = await io.askHidden('Password again: ');
    if (again !== password) throw new UsageError('the two passwords differ; nothing changed');
  }
  return checked(NewPasswordSchema, password, 'password');
}

/** `oag central users add NAME --role ROLE`. Exit status: 0 added, 1 refused (the name is taken), 2 usage. */
export function runCentralUsersAdd(username: string, options: CentralUsersAddOptions, io: CentralAuthIo = terminalIo()): Promise<number> {
  return run(io, async () => {
    const { RoleSchema, UsernameSchema } = await import('../../central/auth/schemas.js');
    const { generatePassword } = await import('../../central/auth/accounts.js');
    const name = checked(UsernameSchema, username, 'username');
    const role = checked(RoleSchema, options.role, 'role');
    const given = await givenPassword(options, io);
    const password = given ?? generatePassword();
    await withCentralAuth(options, async ({ path, accounts, audit }) => {
      const user = await accounts.add(name, role, password);
      await audit.record(cliActor(), 'user-add', { detail: `user:${user.username} as ${user.role}` });
      io.out(`${path}: added ${user.username}, ${user.role}\n`);
      if (given === undefined) io.out(`password (shown once): ${password}\n`);
    });
  });
}

/** `oag central users list`. */
export function runCentralUsersList(options: CentralStoreOptions & { json?: boolean | undefined }, io: CommandIo = processIo): Promise<number> {
  return run(io, () =>
    withCentralAuth(options, async ({ path, accounts }) => {
      const list = await accounts.list();
      if (options.json) {
        io.out(`${JSON.stringify(list, null, 2)}\n`);
        return;
      }
      if (list.length === 0) {
        io.out(`${path}: no accounts yet (oag central users add NAME --role administrator)\n`);
        return;
      }
      io.out(`${'username'.padEnd(32)} ${'role'.padEnd(13)} ${'source'.padEnd(6)} last sign-in\n`);
      for (const u of list) io.out(`${u.username.padEnd(32)} ${u.role.padEnd(13)} ${u.source.padEnd(6)} ${u.lastLoginAt ?? 'never'}\n`);
    }),
  );
}

/** `oag central tokens add --name N --role R --expires-days D`: the token alone on stdout, what it is on stderr. */
export function runCentralTokensAdd(options: CentralTokensAddOptions, io: CommandIo = processIo): Promise<number> {
  return run(io, async () => {
    const { NewTokenBodySchema } = await import('../../central/auth/schemas.js');
    const request = checked(NewTokenBodySchema, { name: options.name, role: options.role, expiresDays: Number(options.expiresDays) }, '');
    await withCentralAuth(options, async ({ path, tokens, audit }) => {
      const actor = cliActor();
      const { token, info } = await tokens.create(request, actor);
      await audit.record(actor, 'token-add', { detail: `token:${info.name} (${info.id}) as ${info.role}, expires ${info.expiresAt}` });
      io.err(`${path}: token ${info.name} (id ${info.id}), ${info.role}, expires ${info.expiresAt}; shown once, keep it safe:\n`);
      io.out(`${token}\n`);
    });
  });
}

/** `oag central tokens list`: never the tokens themselves (central does not have them). */
export function runCentralTokensList(options: CentralStoreOptions & { json?: boolean | undefined }, io: CommandIo = processIo): Promise<number> {
  return run(io, () =>
    withCentralAuth(options, async ({ path, tokens }) => {
      const list = await tokens.list();
      if (options.json) {
        io.out(`${JSON.stringify(list, null, 2)}\n`);
        return;
      }
      if (list.length === 0) {
        io.out(`${path}: no API tokens\n`);
        return;
      }
      io.out(`${'id'.padEnd(12)} ${'name'.padEnd(24)} ${'role'.padEnd(13)} ${'status'.padEnd(7)} ${'expires'.padEnd(24)} last used\n`);
      for (const t of list) io.out(`${t.id} ${t.name.padEnd(24)} ${t.role.padEnd(13)} ${t.status.padEnd(7)} ${t.expiresAt.padEnd(24)} ${t.lastUsedAt ?? 'never'}\n`);
    }),
  );
}

/** `oag central tokens revoke ID|NAME`: refused from the next request on. */
export function runCentralTokensRevoke(which: string, options: CentralStoreOptions, io: CommandIo = processIo): Promise<number> {
  return run(io, () =>
    withCentralAuth(options, async ({ path, tokens, audit }) => {
      const all = await tokens.list();
      const live = all.filter((t) => t.status !== 'revoked');
      const target = live.find((t) => t.id === which) ?? live.find((t) => t.name === which) ?? all.find((t) => t.id === which);
      if (target === undefined) throw new Refused(`${path}: no token with the id or name "${which}" (oag central tokens list)`);
      const actor = cliActor();
      const info = await tokens.revoke(target.id, actor);
      await audit.record(actor, 'token-revoke', { detail: `token:${info.name} (${info.id})` });
      io.out(`${path}: revoked ${info.name} (id ${info.id})\n`);
    }),
  );
}

function terminalIo(): CentralAuthIo {
  const tty = process.stdin.isTTY === true && process.stderr.isTTY === true;
  return { ...processIo, askHidden: tty ? askHidden : undefined };
}

/** `oag central users …` and `oag central tokens …`, under `central`. */
export function registerCentralAuth(central: Command): void {
  // `--config` is also an option of `oag central` itself, which commander gives it first.
  const all = <T>(command: Command, options: T): T => ({ ...(command.optsWithGlobals() as T), ...options });
  const withConfig = (command: Command): Command => command.option('-c, --config <file>', "central config: the store's path");

  const users = central.command('users').description("central's accounts (administrators manage the rest from the API)");
  withConfig(users.command('add'))
    .description('add a local account; the password from --password-file, a hidden prompt, or made and printed once')
    .argument('<name>', 'the sign-in name (letters, digits, . _ - @)')
    .requiredOption('-r, --role <role>', 'viewer, operator or administrator')
    .option('--password-file <file>', 'read the password from the first line of this file')
    .addHelpText('after', '\nExit status: 0 added, 1 refused (the name is taken), 2 usage.')
    .action(async (name: string, options: CentralUsersAddOptions, command: Command) => {
      process.exitCode = await runCentralUsersAdd(name, all(command, options));
    });
  withConfig(users.command('list'))
    .description('list the accounts')
    .option('--json', 'as JSON')
    .action(async (options: CentralStoreOptions & { json?: boolean }, command: Command) => {
      process.exitCode = await runCentralUsersList(all(command, options));
    });

  const tokens = central.command('tokens').description('API tokens for scripts and other systems: a role, an expiry, revocable');
  withConfig(tokens.command('add'))
    .description('make a token; printed once on standard output (central keeps only its hash)')
    .requiredOption('-n, --name <name>', 'what it is for: nightly-export, door-monitor…')
    .requiredOption('-r, --role <role>', 'viewer, operator or administrator')
    .requiredOption('--expires-days <days>', 'days until it stops working (1 to 365)')
    .action(async (options: CentralTokensAddOptions, command: Command) => {
      process.exitCode = await runCentralTokensAdd(all(command, options));
    });
  withConfig(tokens.command('list'))
    .description('list the tokens (never the tokens themselves)')
    .option('--json', 'as JSON')
    .action(async (options: CentralStoreOptions & { json?: boolean }, command: Command) => {
      process.exitCode = await runCentralTokensList(all(command, options));
    });
  withConfig(tokens.command('revoke'))
    .description('revoke a token by its id or name: refused from the next request on')
    .argument('<id-or-name>')
    .action(async (which: string, options: CentralStoreOptions, command: Command) => {
      process.exitCode = await runCentralTokensRevoke(which, all(command, options));
    });
}
