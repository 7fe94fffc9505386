// `oag users add|list|passwd|remove`: staff console accounts in a gateway's store. `oag users add --role manager`
// makes the first manager, who then manages the others from the console. Passwords are read from a hidden prompt,
// or from standard input with --password-stdin (for scripts: `printf %s "$PW" | oag users add … --password-stdin`),
// never from the command line, where `ps` and the shell history would keep them.
// `oag users token add|list|revoke`: API tokens for monitoring and scripts (Authorization: Bearer oag_…). A token is
// printed once, when it is made; the store keeps only its SHA-256.
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { openConsoleDb } from '../../gateway/console/db.js';
import { NewPasswordSchema, RoleSchema, TokenIdSchema, TokenNameSchema, UsernameSchema } from '../../gateway/console/schemas.js';
import { ConsoleSessions } from '../../gateway/console/sessions.js';
import { ApiTokens, TOKEN_MAX_DAYS, TokenError } from '../../gateway/console/tokens.js';
import { ConsoleUsers, UserError } from '../../gateway/console/users.js';
import type { Role } from '../../gateway/console/users.js';
import { loadGatewayConfig } from '../../gateway/config.js';
import { StoreError, openStore } from '../../gateway/store/index.js';
import { validate } from '../../policies/errors.js';
import { storePathProblem, storeProblem } from './failure.js';
import { processIo } from './schedule.js';
import type { CommandIo } from './schedule.js';
import { askHidden } from './ask-hidden.js';
import { runCommand, UsageError } from './cli-errors.js';

export interface UsersIo extends CommandIo {
  /** The whole of standard input (for --password-stdin). */
  readStdin(): Promise<string>;
  /** A prompt that does not echo; undefined when there is no terminal to ask on. */
  askHidden: ((question: string) => Promise<string>) | undefined;
}

export interface StoreOptions {
  store?: string | undefined;
  config?: string | undefined;
}

export interface UsersAddOptions extends StoreOptions {
  username: string;
  role: string;
  passwordStdin?: boolean | undefined;
}

export interface UsersPasswdOptions extends StoreOptions {
  username: string;
  passwordStdin?: boolean | undefined;
}


function storePath(options: StoreOptions, mustExist: boolean): string {
  const path = options.store ?? (options.config === undefined ? undefined : loadGatewayConfig(options.config).store.path);
  if (path === undefined) throw new UsageError('give the store: --store PATH, or --config FILE');
  if (mustExist && !existsSync(path)) throw new UsageError(`${path}: no store there`);
  const problem = storePathProblem(path);
  if (problem !== undefined) throw new UsageError(problem);
  return path;
}

function checked<T>(schema: Parameters<typeof validate>[0], value: unknown, name: string): T {
  const result = validate(schema, value);
  if (!result.ok) throw new UsageError(result.errors.map((e) => `${name}${e.replace(/^\(root\)/, '')}`).join('\n'));
  return result.value as T;
}

/** The password from stdin (one line; the final newline dropped) or asked twice on the terminal. */
async function readPassword(options: { passwordStdin?: boolean | undefined }, io: UsersIo): Promise<string> {
  let password: string;
  if (options.passwordStdin === true) {
    password = (await io.readStdin()).replace(/\r?\n$/, '');
  } else {
    if (io.askHidden === undefined) throw new UsageError('no terminal to ask for the password on: pipe it in with --password-stdin');
    password = await io.askHidden('Password: ');
    const again = await io.askHidden('Password again: ');
    if (again !== password) throw new UsageError('the two passwords differ; nothing changed');
  }
  return checked<string>(NewPasswordSchema, password, 'password');
}

/** A store that would not open or answer, put into words (SQLite's own say "unable to open database file"). */
class StoreProblem extends Error {}

async function withUsers<T>(path: string, fn: (users: ConsoleUsers, sessions: ConsoleSessions, tokens: ApiTokens) => Promise<T>): Promise<T> {
  let store;
  try {
    store = openStore(path);
  } catch (error) {
    const problem = storeProblem(path, error);
    throw problem === undefined ? error : new StoreProblem(problem, { cause: error });
  }
  try {
    const db = openConsoleDb(store);
    try {
      const clock = { now: () => new Date() };
      return await fn(new ConsoleUsers(db, clock), new ConsoleSessions(db, clock), new ApiTokens(db, clock));
    } finally {
      db.close();
    }
  } finally {
    store.close();
  }
}

function run(io: UsersIo, fn: () => Promise<void>): Promise<number> {
  return runCommand(
    io,
    fn,
    (error) => error instanceof UserError || error instanceof TokenError || error instanceof StoreError || error instanceof StoreProblem || (error instanceof Error && error.name === 'ConfigError'),
  );
}

export function runUsersAdd(options: UsersAddOptions, io: UsersIo = terminalIo()): Promise<number> {
  return run(io, async () => {
    const username = checked<string>(UsernameSchema, options.username, 'username');
    const role = checked<Role>(RoleSchema, options.role, 'role');
    const path = storePath(options, false);
    const password = await readPassword(options, io);
    await withUsers(path, async (users) => {
      await users.add(username, role, password);
      io.out(`${path}: added ${role} "${username}"; sign in at the gateway's /console/\n`);
    });
  });
}

export function runUsersPasswd(options: UsersPasswdOptions, io: UsersIo = terminalIo()): Promise<number> {
  return run(io, async () => {
    const username = checked<string>(UsernameSchema, options.username, 'username');
    const path = storePath(options, true);
    const password = await readPassword(options, io);
    await withUsers(path, async (users, sessions) => {
      await users.setPassword(username, password);
      sessions.revokeUser(username);
      io.out(`${path}: new password set for "${username}"; their console sessions have ended\n`);
    });
  });
}

export function runUsersRemove(options: StoreOptions & { username: string }, io: UsersIo = terminalIo()): Promise<number> {
  return run(io, async () => {
    const username = checked<string>(UsernameSchema, options.username, 'username');
    const path = storePath(options, true);
    await withUsers(path, async (users) => {
      users.remove(username);
      io.out(`${path}: removed "${username}"\n`);
    });
  });
}

export function runUsersList(options: StoreOptions & { json?: boolean | undefined }, io: UsersIo = terminalIo()): Promise<number> {
  return run(io, async () => {
    const path = storePath(options, true);
    await withUsers(path, async (users) => {
      const list = users.list();
      if (options.json === true) {
        io.out(`${JSON.stringify(list, null, 2)}\n`);
        return;
      }
      if (list.length === 0) {
        io.out(`${path}: no console accounts yet (oag users add --username NAME --role manager)\n`);
        return;
      }
      io.out(`${'username'.padEnd(32)} ${'role'.padEnd(8)} last sign-in\n`);
      for (const user of list) io.out(`${user.username.padEnd(32)} ${user.role.padEnd(8)} ${user.lastLoginAt ?? 'never'}\n`);
    });
  });
}

export interface TokenAddOptions extends StoreOptions {
  name: string;
  role: string;
  expiresDays: string;
}

export function runTokenAdd(options: TokenAddOptions, io: UsersIo = terminalIo()): Promise<number> {
  return run(io, async () => {
    const name = checked<string>(TokenNameSchema, options.name, 'name');
    const role = checked<Role>(RoleSchema, options.role, 'role');
    const days = Number(options.expiresDays);
    if (!/^\d+$/.test(String(options.expiresDays).trim()) || days < 1 || days > TOKEN_MAX_DAYS) {
      throw new UsageError(`expires-days: must be a whole number of days from 1 to ${TOKEN_MAX_DAYS} (got ${JSON.stringify(options.expiresDays)})`);
    }
    const path = storePath(options, true);
    await withUsers(path, async (_users, _sessions, tokens) => {
      const { token, info } = tokens.add(name, role, days);
      // The token alone on stdout (for `TOKEN=$(oag users token add …)`); what it is on stderr.
      io.out(`${token}\n`);
      io.err(`${path}: API token ${info.id} "${info.name}" (${info.role}) until ${info.expiresAt}; it is shown this once: keep it where the script reads it\n`);
    });
  });
}

export function runTokenList(options: StoreOptions & { json?: boolean | undefined }, io: UsersIo = terminalIo()): Promise<number> {
  return run(io, async () => {
    const path = storePath(options, true);
    await withUsers(path, async (_users, _sessions, tokens) => {
      const list = tokens.list();
      if (options.json === true) {
        io.out(`${JSON.stringify(list, null, 2)}\n`);
        return;
      }
      if (list.length === 0) {
        io.out(`${path}: no API tokens (oag users token add --name NAME --role staff --expires-days 90)\n`);
        return;
      }
      const now = Date.now();
      io.out(`${'id'.padEnd(12)} ${'name'.padEnd(24)} ${'role'.padEnd(8)} ${'state'.padEnd(8)} ${'expires'.padEnd(24)} last used\n`);
      for (const t of list) {
        const state = t.revokedAt !== null ? 'revoked' : Date.parse(t.expiresAt) <= now ? 'expired' : 'live';
        io.out(`${t.id} ${t.name.padEnd(24)} ${t.role.padEnd(8)} ${state.padEnd(8)} ${t.expiresAt.padEnd(24)} ${t.lastUsedAt ?? 'never'}\n`);
      }
    });
  });
}

export function runTokenRevoke(options: StoreOptions & { id: string }, io: UsersIo = terminalIo()): Promise<number> {
  return run(io, async () => {
    const id = checked<string>(TokenIdSchema, options.id, 'id');
    const path = storePath(options, true);
    await withUsers(path, async (_users, _sessions, tokens) => {
      const revoked = tokens.revoke(id);
      io.out(`${path}: API token ${revoked.id} "${revoked.name}" revoked; it is refused from now on\n`);
    });
  });
}

function terminalIo(): UsersIo {
  const tty = process.stdin.isTTY === true && process.stderr.isTTY === true;
  return {
    ...processIo,
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    askHidden: tty ? askHidden : undefined,
  };
}

export function register(program: Command): void {
  const users = program.command('users').description('staff console accounts in a gateway store (managers: schedules and accounts; staff: the building and the log)');
  const storeOptions = (command: Command): Command =>
    command.option('--store <path>', "the gateway's SQLite store").option('-c, --config <file>', 'take the store path from this gateway config');

  storeOptions(users.command('add'))
    .description('add an account; the password is asked for (or read from stdin with --password-stdin)')
    .requiredOption('-u, --username <name>', 'the sign-in name (letters, digits, . _ -)')
    .requiredOption('-r, --role <role>', 'manager or staff')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (options: UsersAddOptions) => {
      process.exitCode = await runUsersAdd(options);
    });

  storeOptions(users.command('list'))
    .description('list the accounts')
    .option('--json', 'as JSON')
    .action(async (options: StoreOptions & { json?: boolean }) => {
      process.exitCode = await runUsersList(options);
    });

  storeOptions(users.command('passwd'))
    .description("set a new password for an account (a forgotten manager's password, say)")
    .requiredOption('-u, --username <name>', 'the account')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (options: UsersPasswdOptions) => {
      process.exitCode = await runUsersPasswd(options);
    });

  const token = users.command('token').description('API tokens for monitoring and scripts (Authorization: Bearer oag_…), each with a role and an expiry');
  storeOptions(token.command('add'))
    .description('make a token and print it (once: only its hash is kept)')
    .requiredOption('-n, --name <name>', 'what it is for (monitoring, door-display…); the log shows token:NAME')
    .requiredOption('-r, --role <role>', 'staff or manager')
    .requiredOption('--expires-days <days>', `days until it stops working (1 to ${TOKEN_MAX_DAYS})`)
    .action(async (options: TokenAddOptions) => {
      process.exitCode = await runTokenAdd(options);
    });
  storeOptions(token.command('list'))
    .description('list the tokens: id, name, role, live, expired or revoked, last used')
    .option('--json', 'as JSON')
    .action(async (options: StoreOptions & { json?: boolean }) => {
      process.exitCode = await runTokenList(options);
    });
  storeOptions(token.command('revoke'))
    .description('revoke a token by its id (from oag users token list): refused from the next request')
    .argument('<id>', 'the token id')
    .action(async (id: string, options: StoreOptions) => {
      process.exitCode = await runTokenRevoke({ ...options, id });
    });

  storeOptions(users.command('remove'))
    .description('remove an account (the last manager stays)')
    .requiredOption('-u, --username <name>', 'the account')
    .action(async (options: StoreOptions & { username: string }) => {
      process.exitCode = await runUsersRemove(options);
    });
}
