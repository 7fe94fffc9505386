// The real `oag gateway` process for system tests and the soak: its files written here, its members put in its
// store the way an import would, spawned on simulated hardware, tapped through its local API. Its stdout (pino,
// level info) goes to a file: every recorded event is logged there with its id when it is recorded, before any
// disk is involved, so the log is the record of what the gateway generated, whatever became of the store.
// Its state is read with an API token of its own, made in its store before it starts (as `oag users token add` would).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import { loadGatewayConfig } from '../../gateway/config.js';
import { addApiToken } from '../../gateway/console/index.js';
import { createCardHasher, normaliseCardId } from '../../gateway/core/cards.js';
import { openStore } from '../../gateway/store/index.js';
import { TEST_KEY_HEX, adult } from './gateway-harness.js';
import { testSigningKey } from './signing-keys.js';
import { until } from './until.js';
export { until };

export const repoRoot = resolve(import.meta.dirname, '..', '..');
export { TEST_KEY_HEX };

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` holds; the bound is generous and only there so that a broken run ends. */

export function openAllDayPolicy(site: string, version = 1): Record<string, unknown> {
  return {
    version,
    site,
    schedule: { weekly: Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [d, [{ from: '00:00', to: '24:00', mode: 'open-access' }]])) },
  };
}

/** A card number for the n-th member: digits only, so that it normalises to itself. */
export function memberCard(n: number): string {
  return `2100${String(n).padStart(10, '0')}`;
}

/** Puts `count` members (memberCard(0…count-1)) in a new store at `path`, closed again before the gateway opens it. */
export function seedMembers(path: string, count: number, key = TEST_KEY_HEX): void {
  const hash = createCardHasher(Buffer.from(key, 'hex'));
  const store = openStore(path);
  try {
    const rows = Array.from({ length: count }, (_, n) => ({ ...adult, cardHash: hash(normaliseCardId(memberCard(n))) }));
    store.members.replaceAll(rows, { version: 1, source: 'test' });
  } finally {
    store.close();
  }
}

export interface GatewayFilesOptions {
  site: string;
  /** Where config, policy and log live (not the store's folder: that may be the small disk under test). */
  dir: string;
  storePath: string;
  port: number;
  mqtt?: Record<string, unknown>;
  logLevel?: string;
  /** Anything else for the config (merged at the top level). */
  extra?: Record<string, unknown>;
}

/** Writes policy.yaml and gateway.yaml into `dir`; returns the config's path. */
export function writeGatewayFiles(options: GatewayFilesOptions): string {
  writeFileSync(join(options.dir, 'policy.yaml'), stringify(openAllDayPolicy(options.site)));
  const config = {
    site: options.site,
    policyFile: join(options.dir, 'policy.yaml'),
    store: { path: options.storePath },
    clock: { trust: 'trusted' },
    http: { port: options.port },
    // Several taps of one card in a row are several taps: the tests count events per tap.
    taps: { repeatWindowMs: 0 },
    log: { level: options.logLevel ?? 'info' },
    // Named: a gateway config without its drivers is refused.
    hardware: { gpio: { driver: 'simulated' }, readers: [{ id: 'entry', driver: 'simulated', role: 'entry' }] },
    // Central's public key from install: the test key central's tests sign with, unless the test names others.
    ...(options.mqtt === undefined ? {} : { mqtt: { centralKeys: [testSigningKey().publicFile], ...options.mqtt } }),
    ...options.extra,
  };
  const path = join(options.dir, 'gateway.yaml');
  writeFileSync(path, stringify(config));
  return path;
}

export interface TapAnswer {
  status: number;
  result?: 'granted' | 'refused' | 'ignored';
  reason?: string;
}

export interface GatewayState {
  door: string;
  alarms: string[];
  uplink: { connected: boolean } | null;
  [key: string]: unknown;
}

export class GatewayProcess {
  private static readonly running = new Set<GatewayProcess>();
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly url: string;

  private constructor(
    child: ChildProcess,
    readonly port: number,
    readonly logPath: string,
    /** A staff API token for /api/state, or why there is none (the store could not be written before the start). */
    private readonly token: { ok: true; token: string } | { ok: false; error: string },
  ) {
    this.child = child;
    this.url = `http://127.0.0.1:${port}`;
    this.exited = new Promise((resolveExit) => child.once('exit', (code, signal) => resolveExit({ code, signal })));
    GatewayProcess.running.add(this);
    void this.exited.then(() => GatewayProcess.running.delete(this));
  }

  /** The pids of every gateway started here that has not exited (for a run interrupted by Ctrl-C). */
  static live(): number[] {
    return [...GatewayProcess.running].map((g) => g.child.pid).filter((pid): pid is number => pid !== undefined);
  }

  /** Spawns `oag gateway --config FILE`; its stdout and stderr are appended to `logPath`. Resolves once it answers. */
  static async start(options: { config: string; port: number; logPath: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<GatewayProcess> {
    const token = stateToken(options.config);
    const fd = openSync(options.logPath, 'a');
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [join(repoRoot, 'bin/oag.js'), 'gateway', '--config', options.config], {
        cwd: repoRoot,
        env: { ...process.env, OAG_DEPLOYMENT_KEY: TEST_KEY_HEX, ...options.env },
        stdio: ['ignore', fd, fd],
      });
    } finally {
      closeSync(fd);
    }
    const gateway = new GatewayProcess(child, options.port, options.logPath, token);
    let gone = false;
    void gateway.exited.then(() => {
      gone = true;
    });
    await until(
      async () => {
        if (gone) throw new Error(`the gateway exited during start; its log:\n${gateway.logTail()}`);
        return (await fetch(`${gateway.url}/api/health`).catch(() => undefined))?.ok === true;
      },
      'the gateway to answer on its local API',
      options.timeoutMs ?? 60_000,
    );
    return gateway;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async tap(uid: string): Promise<TapAnswer> {
    const response = await fetch(`${this.url}/api/simulate/tap`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ uid }) });
    const body = (await response.json().catch(() => ({}))) as { result?: TapAnswer['result']; reason?: string };
    return { status: response.status, result: body.result, reason: body.reason };
  }

  async state(): Promise<GatewayState> {
    if (!this.token.ok) throw new Error(`GET /api/state needs a token, and none could be made: ${this.token.error}`);
    const response = await fetch(`${this.url}/api/state`, { headers: { authorization: `Bearer ${this.token.token}` } });
    if (!response.ok) throw new Error(`GET /api/state: ${response.status}`);
    return (await response.json()) as GatewayState;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.running) this.child.kill(signal);
    await this.exited;
  }

  logTail(lines = 40): string {
    return existsSync(this.logPath) ? readFileSync(this.logPath, 'utf8').split('\n').slice(-lines).join('\n') : '';
  }
}

/**
 * A staff token in the store the config names, made before the gateway starts (its store is migrated then, as the
 * gateway would). A store that cannot be written (a full disk under test) leaves the process without one: only
 * state() needs it, and says so.
 */
function stateToken(configPath: string): { ok: true; token: string } | { ok: false; error: string } {
  try {
    const store = openStore(loadGatewayConfig(configPath).store.path);
    try {
      return { ok: true, token: addApiToken(store, 'tests', 'staff', 30).token };
    } finally {
      store.close();
    }
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
}

/** The ids of every event a gateway logged as recorded (pino's `event` field), from its log file, in order. */
export function loggedEventIds(logPath: string, site?: string): string[] {
  if (!existsSync(logPath)) return [];
  const ids: string[] = [];
  for (const line of readFileSync(logPath, 'utf8').split('\n')) {
    if (!line.startsWith('{') || !line.includes('"event":')) continue;
    try {
      const entry = JSON.parse(line) as { event?: { id?: unknown; site?: unknown } };
      if (typeof entry.event?.id === 'string' && (site === undefined || entry.event.site === site)) ids.push(entry.event.id);
    } catch {
      // A line cut short by kill -9 was never a whole event record.
    }
  }
  return ids;
}

export interface StoredEventRow {
  id: string;
  at: string;
  type: string;
  published: number;
  data: string;
}

/** Every event row in a gateway's store, read through a read-only connection beside the running gateway. */
export function storeEvents(path: string): StoredEventRow[] {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT id, at, type, published, data FROM events ORDER BY id').all() as StoredEventRow[];
  } finally {
    db.close();
  }
}

/** The ids central stored for a site, read from central's SQLite file (its API pages by time, which can skip ties). */
export function centralEventIds(centralStorePath: string, site: string): string[] {
  const db = new Database(centralStorePath, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT id FROM events WHERE site = ? ORDER BY id').all(site) as Array<{ id: string }>).map((r) => r.id);
  } finally {
    db.close();
  }
}

/** What is in `a` and not in `b`. */
export function missingFrom(a: Iterable<string>, b: Iterable<string>): string[] {
  const have = new Set(b);
  return [...a].filter((x) => !have.has(x));
}

/** Values that occur more than once. */
export function duplicates(values: Iterable<string>): string[] {
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const v of values) (seen.has(v) ? twice : seen).add(v);
  return [...twice];
}
