// How `oag` says that something went wrong: one line, `oag <command>: <what is wrong>`, exit 1 (2 for usage), and a
// stack trace only with OAG_DEBUG=1. The people who run `oag` are installers and library staff: a stack trace tells
// them nothing, while "port 8080 on 127.0.0.1 is in use (http.port in gateway.yaml)" tells them what to change.
// Also here: the wording for the failures `oag` sees most, a busy port and a store path that is not a store.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';

/** A failure the command has already put into words; the top-level handler prints it and exits with `exitCode`. */
export class CliFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
    this.name = 'CliFailure';
  }
}

/** `members import` for `oag members import`: the words after `oag`. */
export function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c !== null && c.parent !== null; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

export function debugEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env.OAG_DEBUG;
  return value !== undefined && value !== '' && value !== '0';
}

/**
 * What to print for an error that reached the top of `oag`, and the exit status. `command` is `members import`, or
 * '' before any command ran. Every line of the message is kept (a config error lists one problem per line); the
 * stack only under OAG_DEBUG.
 */
export function describeFailure(command: string, error: unknown, debug = debugEnabled()): { text: string; exitCode: number } {
  const prefix = command === '' ? 'oag' : `oag ${command}`;
  const exitCode = error instanceof CliFailure ? error.exitCode : 1;
  let message: string;
  if (error instanceof Error) {
    message = error.message.trim() === '' ? error.name : error.message.trim();
    const code = (error as NodeJS.ErrnoException).code;
    if (!(error instanceof CliFailure) && typeof code === 'string' && !message.includes(code)) message += ` (${code})`;
  } else {
    message = String(error);
  }
  // Not an input problem the message explains: most likely a bug, and whoever reports it will need the stack.
  const hint = !debug && !(error instanceof CliFailure) && !isKnownInputError(error) ? ' (OAG_DEBUG=1 shows where)' : '';
  let text = `${prefix}: ${message}${hint}\n`;
  if (debug && error instanceof Error && error.stack !== undefined) text += `${error.stack}\n`;
  return { text, exitCode };
}

/** Errors about the input that the message already explains: no hint about debugging. */
function isKnownInputError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return ['ConfigError', 'CentralConfigError', 'DeploymentKeyError', 'StoreError', 'StoreVersionError', 'ImportError', 'LmsImportError'].includes(error.name);
}

export interface Listener {
  host: string;
  port: number;
  /** Where the port is set: `http.port`, `embedded.port`. */
  setting: string;
}

/**
 * A listen that failed, in the words of the config: "port 8080 on 127.0.0.1 is in use (http.port in gw.yaml)".
 * Undefined for any other error.
 */
export function listenProblem(error: unknown, listeners: readonly Listener[], file: string | undefined): string | undefined {
  const e = error as (NodeJS.ErrnoException & { address?: string; port?: number }) | undefined;
  const code = e?.code;
  if (code !== 'EADDRINUSE' && code !== 'EACCES' && code !== 'EADDRNOTAVAIL') return undefined;
  if (code === 'EACCES' && e?.syscall !== 'listen') return undefined;
  const listener = listeners.find((l) => l.port === e?.port) ?? (listeners.length === 1 ? listeners[0] : undefined);
  const host = e?.address ?? listener?.host ?? 'this machine';
  const port = e?.port ?? listener?.port;
  const where = listener === undefined ? '' : ` (${listener.setting} in ${file ?? 'the defaults: give --config FILE to change it'})`;
  if (code === 'EADDRINUSE') return `port ${port} on ${host} is in use${where}`;
  if (code === 'EACCES') return `port ${port} on ${host} needs privileges this user does not have${where}; use a port above 1023`;
  return `${host} is not an address of this machine${where}`;
}

const SQLITE_HEADER = 'SQLite format 3\0';

const storeFileName = (kind: string): string => (kind.startsWith('central') ? 'central.sqlite' : 'gateway.sqlite');

/**
 * Looks at a store path before SQLite does, so that a folder or a file of something else is named as such and left
 * alone (SQLite would say "unable to open database file" or, on an empty file, make it a database).
 */
export function storePathProblem(path: string, kind = 'gateway store'): string | undefined {
  if (path === ':memory:') return undefined;
  let stat;
  try {
    stat = statSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ENOTDIR') return `${path}: part of the path is a file, not a folder`;
    return `${path}: cannot open the store (${code ?? (error as Error).message})`;
  }
  if (stat.isDirectory()) return `${path}: is a folder; give the store's file (for example ${join(path, storeFileName(kind))})`;
  if (!stat.isFile()) return `${path}: not a ${kind} (not a regular file)`;
  if (stat.size === 0) return undefined;
  const head = Buffer.alloc(SQLITE_HEADER.length);
  let n = 0;
  try {
    const fd = openSync(path, 'r');
    try {
      n = readSync(fd, head, 0, head.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    return `${path}: cannot open the store (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`;
  }
  if (n < head.length || head.toString('latin1') !== SQLITE_HEADER) return `${path}: not a ${kind} (not an SQLite database)`;
  return undefined;
}

/**
 * A store that would not open or answer, in words (the store's own StoreError, or SQLite's error when it comes
 * unwrapped). Undefined when the error is not about the store.
 */
export function storeProblem(path: string, error: unknown, kind = 'gateway store'): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const cause = (error as { cause?: unknown }).cause;
  const code = (error as NodeJS.ErrnoException).code ?? (cause as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'SQLITE_NOTADB':
      return `${path}: not a ${kind} (not an SQLite database)`;
    case 'EISDIR':
      return `${path}: is a folder; give the store's file (for example ${join(path, storeFileName(kind))})`;
    case 'SQLITE_CANTOPEN':
    case 'ENOTDIR':
    case 'EACCES':
      return storePathProblem(path, kind) ?? `${path}: cannot open the store (does its folder exist, and may this user write there?)`;
    case 'SQLITE_READONLY':
      return `${path}: the store is read-only for this user`;
    case 'SQLITE_BUSY':
    case 'SQLITE_LOCKED':
      return `${path}: the store is busy (another process is writing to it); try again`;
    case 'SQLITE_CORRUPT':
      return `${path}: the store is damaged (SQLITE_CORRUPT); restore a backup`;
    case 'SQLITE_FULL':
    case 'ENOSPC':
      return `${path}: the disk is full`;
    default:
      break;
  }
  if (error.name === 'StoreError' || error.name === 'StoreVersionError' || error.name === 'MemberListError') return error.message;
  if (error.name === 'SqliteError') return `${path}: the store failed: ${error.message}${code === undefined ? '' : ` (${code})`}`;
  // better-sqlite3's own check, before SQLite sees the path.
  if (error instanceof TypeError && /directory does not exist/.test(error.message)) return `${path}: its folder does not exist`;
  return undefined;
}
