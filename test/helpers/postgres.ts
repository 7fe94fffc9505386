// A throwaway PostgreSQL cluster for system tests: initdb in a temp folder, one postmaster on a free loopback port
// (TCP only, no Unix socket), trust authentication, fsync off. Debian's binaries (/usr/lib/postgresql/<v>/bin, which
// are not on PATH) or any on PATH. PostgreSQL refuses to run as root, and CI runs as root: then initdb and the server
// run as Debian's `postgres` user through runuser, in a folder given to that user. Signals go to the postmaster's pid
// from postmaster.pid (runuser stands between it and us), so a kill -9 is a real one.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './free-port.js';

export interface RunningPostgres {
  /** postgres://postgres@127.0.0.1:PORT/postgres — the cluster's default database. */
  url: string;
  port: number;
  dir: string;
  /** The postmaster's pid (-1 while it is down). */
  pid(): number;
  /** What the server wrote to its log (stderr). */
  log(): string;
  /** A new empty database on this cluster, for one test's isolation; its URL. */
  newDatabase(): Promise<string>;
  /** kill -9 the postmaster, as a crash would (its backends notice and quit); restart() brings it back with recovery. */
  kill9(): Promise<void>;
  /** Stop (fast shutdown) and start again on the same port with the same data. */
  restart(): Promise<void>;
  /** Stop and remove the folder. */
  stop(): Promise<void>;
}

const INSTALL_HINT = 'install it with scripts/install-test-deps.sh (or apt-get install postgresql)';

/** The folder holding initdb and postgres: pg_config --bindir, Debian's versioned folders (newest first), then PATH. */
export function postgresBinDir(): string {
  const has = (dir: string): boolean => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'postgres'));
  const candidates: string[] = [];
  try {
    candidates.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  } catch {
    // no pg_config (it comes with libpq-dev, not with the server): look further
  }
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const versions = readdirSync(debian).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => join(debian, v, 'bin')));
  }
  candidates.push(...(process.env.PATH ?? '').split(':').filter(Boolean));
  const found = candidates.find(has);
  if (!found) {
    throw new Error(`PostgreSQL's server is not installed (no initdb and postgres in pg_config --bindir, ${debian}/*/bin or PATH): ${INSTALL_HINT}`);
  }
  return found;
}

/** As root, how to become Debian's `postgres` user; otherwise nothing (we run it as ourselves). */
function asPostgresUser(dir: string): { prefix: string[] } {
  if (process.geteuid?.() !== 0) return { prefix: [] };
  let uid: number;
  let gid: number;
  try {
    uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  } catch {
    throw new Error(`PostgreSQL refuses to run as root and there is no "postgres" user to run it as (Debian's postgresql package makes it): ${INSTALL_HINT}`);
  }
  const runuser = ['/usr/sbin/runuser', '/sbin/runuser', '/usr/bin/runuser'].find(existsSync);
  if (!runuser) throw new Error('PostgreSQL refuses to run as root, and runuser (util-linux) is missing to run it as "postgres"');
  chownSync(dir, uid, gid);
  return { prefix: [runuser, '-u', 'postgres', '--'] };
}

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

export async function startPostgres(): Promise<RunningPostgres> {
  const bin = postgresBinDir();
  const dir = mkdtempSync(join(tmpdir(), 'oag-postgres-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  const { prefix } = asPostgresUser(dir);
  const run = (binary: string, args: string[]): string[] => [...prefix, join(bin, binary), ...args];

  const [initCmd, ...initArgs] = run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-locale', '-E', 'UTF8', '--no-sync']);
  try {
    execFileSync(initCmd!, initArgs, { stdio: 'pipe' });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? String(err);
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${stderr.trim()}`);
  }

  const port = await freePort();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let child: ChildProcess | null = null;
  let exited = true;
  let databases = 0;

  const postmasterPid = (): number => {
    try {
      return Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    } catch {
      return -1;
    }
  };
  const log = (): string => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const waitExit = async (timeoutMs: number): Promise<void> => {
    const end = Date.now() + timeoutMs;
    while (!exited && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    if (!exited) throw new Error(`postgres did not exit within ${timeoutMs} ms`);
  };

  const launchOnce = async (): Promise<void> => {
    const out = openSync(logFile, 'a');
    const [cmd, ...args] = run('postgres', [
      '-D', data,
      '-p', String(port),
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'unix_socket_directories=',
      // a test's data is thrown away: no flush to disk (a commit still reaches the kernel before it is
      // acknowledged, so a kill -9 of the server loses nothing committed), small memory beside everyone's tests
      '-c', 'fsync=off',
      '-c', 'full_page_writes=off',
      '-c', 'shared_buffers=32MB',
      '-c', 'max_connections=60',
    ]);
    const c = spawn(cmd!, args, { stdio: ['ignore', out, out] });
    closeSync(out);
    child = c;
    exited = false;
    c.once('exit', () => {
      exited = true;
    });
    const end = Date.now() + 30_000;
    while (Date.now() < end) {
      if (exited) throw new Error(`postgres exited during start:\n${log().split('\n').slice(-15).join('\n')}`);
      if (await answers(url)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`postgres did not answer on port ${port} within 30 s:\n${log().split('\n').slice(-15).join('\n')}`);
  };

  // After a kill -9 the old backends hold the shared memory until they notice their postmaster is gone: the new
  // postmaster refuses to start until then, so a start right after a crash is tried again for a few seconds.
  const launch = async (): Promise<void> => {
    const end = Date.now() + 15_000;
    for (;;) {
      try {
        await launchOnce();
        return;
      } catch (err) {
        if (Date.now() > end || !/shared memory block is still in use|lock file .* already exists/.test(String(err))) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  };

  const signal = async (sig: NodeJS.Signals, timeoutMs: number): Promise<void> => {
    if (exited) return;
    const pid = postmasterPid();
    if (pid > 0) process.kill(pid, sig);
    else child?.kill(sig);
    await waitExit(timeoutMs);
  };

  try {
    await launch();
  } catch (err) {
    await signal('SIGKILL', 5_000).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  const running: RunningPostgres = {
    url,
    port,
    dir,
    pid: () => (exited ? -1 : postmasterPid()),
    log,
    newDatabase: async () => {
      databases += 1;
      const name = `oag_test_${databases}`;
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    kill9: async () => {
      await signal('SIGKILL', 10_000);
    },
    restart: async () => {
      // SIGINT: fast shutdown (clients are disconnected, no wait for them to leave)
      await signal('SIGINT', 30_000);
      await launch();
    },
    stop: async () => {
      try {
        await signal('SIGINT', 30_000);
      } catch {
        await signal('SIGKILL', 5_000).catch(() => {});
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return running;
}

/**
 * A shared suite's fixture on a new database of `server`: a store, `another()` store on the same database as a
 * second central instance opens it, and `close()` for all of them.
 */
export async function storesOnNewDatabase<S extends { close(): Promise<void> }>(
  server: Pick<RunningPostgres, 'newDatabase'>,
  open: (url: string) => Promise<S>,
): Promise<{ store: S; another(): Promise<S>; close(): Promise<void> }> {
  const url = await server.newDatabase();
  const stores = [await open(url)];
  return {
    store: stores[0]!,
    another: async () => {
      const s = await open(url);
      stores.push(s);
      return s;
    },
    close: async () => {
      for (const s of stores) await s.close();
    },
  };
}
