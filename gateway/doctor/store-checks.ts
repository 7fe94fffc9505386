// The store from outside, beside a running gateway or a stopped one: its folder writable, the free space, and the
// member list read through a read-only connection (never the write lock the gateway's writer needs).
import { accessSync, chownSync, constants, existsSync, statSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { GatewayConfig } from '../config.js';
import { MEMBER_SYNC_SETTING } from '../members/sync.js';
import { openStore } from '../store/index.js';
import { fail, ok, warn, type Finding } from './findings.js';

const MIB = 1024 * 1024;
const DAY_MS = 86_400_000;
/** Below this the outbox and a member-list swap (the whole table through the WAL) may not fit. */
export const FREE_FAIL_BYTES = 50 * MIB;
export const FREE_WARN_BYTES = 500 * MIB;

export interface StoreCheckDeps {
  /** The user the checks run as, for the fix ("as root", "as oag"). */
  user: string;
  now: Date;
  /** Free bytes for an unprivileged user on the file system holding `path`; default fs.statfsSync. */
  freeBytes?: (path: string) => number;
}

const FOLDER_FIX = (dir: string): string => `make ${dir} a folder the service's user can write: sudo mkdir -p ${dir} && sudo chown oag:oag ${dir} (or correct store.path)`;

export function checkStore(config: GatewayConfig, deps: StoreCheckDeps): Finding[] {
  const path = config.store.path;
  if (path === ':memory:') return [warn('store.writable', 'store', 'store.path is :memory:: nothing is kept across a restart (events, the member list)', 'set store.path to a file, e.g. /var/lib/oag/gateway.sqlite')];
  const findings: Finding[] = [];
  const dir = dirname(path);
  const folder = folderProblem(dir);
  const ancestor = existingAncestor(dir);
  if (folder === undefined && ancestor !== dir) {
    findings.push(writable(ancestor) ? warn('store.writable', 'store', `the store's folder ${dir} does not exist yet: the gateway makes it at its first start`) : fail('store.writable', 'store', `the store's folder ${dir} does not exist, and ${ancestor} is not writable as ${deps.user}`, FOLDER_FIX(dir)));
  } else if (folder !== undefined) {
    findings.push(fail('store.writable', 'store', `the store's folder ${dir} ${folder}`, FOLDER_FIX(dir)));
  } else if (!writable(dir) || (existsSync(path) && !writable(path))) {
    findings.push(fail('store.writable', 'store', `the store ${path} is not writable as ${deps.user}`, `sudo chown oag:oag ${dir} ${path}* (the gateway runs as oag), or run oag doctor as the service's user: sudo -u oag oag doctor …`));
  } else {
    findings.push(ok('store.writable', 'store', `the store's folder ${dir} is writable as ${deps.user}`));
  }
  const free = freeSpace(existingAncestor(dir), deps.freeBytes);
  if (free !== undefined) {
    const said = `${Math.floor(free / MIB)} MiB free where the store is (${existingAncestor(dir)})`;
    const fix = 'free space on that file system (old logs: sudo journalctl --vacuum-size=100M), or lower store.retentionDays';
    if (free < FREE_FAIL_BYTES) findings.push(fail('store.space', 'store', `only ${said}: events and a new member list may not fit`, fix));
    else if (free < FREE_WARN_BYTES) findings.push(warn('store.space', 'store', `only ${said}`, fix));
    else findings.push(ok('store.space', 'store', said));
  }
  if (folder === undefined && ancestor === dir) findings.push(...checkMemberList(config, deps.now));
  return findings;
}

/** Why `dir` cannot hold the store, or undefined. */
function folderProblem(dir: string): string | undefined {
  const ancestor = existingAncestor(dir);
  return statSync(ancestor).isDirectory() ? undefined : `cannot be made: ${ancestor} is a file`;
}

function existingAncestor(dir: string): string {
  let at = dir;
  while (!existsSync(at) && dirname(at) !== at) at = dirname(at);
  return at;
}

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function freeSpace(path: string, freeBytes?: (path: string) => number): number | undefined {
  try {
    if (freeBytes !== undefined) return freeBytes(path);
    const stats = statfsSync(path);
    return stats.bavail * stats.bsize;
  } catch {
    return undefined;
  }
}

/** The list in force, its version and how long since central confirmed it (or it was imported), as sync.ts counts it. */
function checkMemberList(config: GatewayConfig, now: Date): Finding[] {
  const path = config.store.path;
  if (!existsSync(path)) {
    return [warn('store.open', 'store', `there is no store at ${path} yet: the gateway makes it at its first start`), ...noList(config)];
  }
  let store;
  try {
    const had = SIDE_FILES.filter((suffix) => existsSync(`${path}${suffix}`));
    store = openStore(path, { readonly: true });
    giveSideFilesToOwner(path, had);
  } catch (error) {
    return [fail('store.open', 'store', `the store ${path} cannot be read: ${(error as Error).message}`, `stop the gateway, move ${path} aside and start it again (it makes a new store; the member list comes again from central or an import)`)];
  }
  try {
    const stats = store.members.stats();
    const confirmed = store.settings.get<{ lastSyncAt?: string }>(MEMBER_SYNC_SETTING)?.lastSyncAt;
    const findings = [ok('store.open', 'store', `the store ${path} opens and reads`)];
    if (stats.version === null || stats.count === 0) return [...findings, ...noList(config)];
    const since = confirmed ?? stats.updatedAt;
    const days = since === null ? undefined : Math.floor((now.getTime() - Date.parse(since)) / DAY_MS);
    const what = `member list version ${stats.version}, ${stats.count} members, from ${stats.source ?? 'an unknown source'}`;
    const age = days === undefined ? '' : confirmed === undefined ? `, imported ${days} days ago` : `, confirmed by central ${days} days ago`;
    if (days !== undefined && days > config.members.staleAfterDays) {
      return [
        ...findings,
        fail('members.age', 'members', `${what}${age} (members.staleAfterDays: ${config.members.staleAfterDays}): the member-list-stale alarm`, listFix(config)),
      ];
    }
    return [...findings, ok('members.age', 'members', `${what}${age}`)];
  } catch (error) {
    return [fail('store.open', 'store', `the store ${path} cannot be read: ${(error as Error).message}`, `stop the gateway, move ${path} aside and start it again`)];
  } finally {
    store.close();
  }
}

const SIDE_FILES = ['-wal', '-shm'] as const;

/**
 * A read-only connection to a stopped gateway's store makes its -wal and -shm files (it cannot read WAL without them)
 * and leaves them. Made by root (`sudo oag doctor`) they would keep the gateway, running as the store's owner, from
 * opening its store for writing: they are given to that owner, as if the gateway had made them.
 */
function giveSideFilesToOwner(path: string, had: readonly string[]): void {
  if (process.getuid?.() !== 0) return;
  const owner = statSync(path);
  for (const suffix of SIDE_FILES) {
    if (had.includes(suffix) || !existsSync(`${path}${suffix}`)) continue;
    try {
      chownSync(`${path}${suffix}`, owner.uid, owner.gid);
    } catch {
      // Gone again, or not ours to give: the gateway's own open says so if it matters.
    }
  }
}

function noList(config: GatewayConfig): Finding[] {
  return [fail('members.age', 'members', 'no member list in the store: no member card opens the door', listFix(config))];
}

function listFix(config: GatewayConfig): string {
  return config.mqtt === undefined
    ? 'import the library system\'s export: oag members import FILE.csv --config CONFIG'
    : 'see the mqtt findings: central sends the list once the branch reaches the broker (or import an export: oag members import FILE.csv --config CONFIG)';
}
