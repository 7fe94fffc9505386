// Several central instances as production runs them (docs/central.md, "Several instances"): Debian's Mosquitto
// (MQTT 5, TLS, the per-site ACL, a password file), a PostgreSQL cluster of the test's own, and N central processes,
// each `oag central` in a process of its own (the ingest bench's child, scripts/bench/ingest-central.ts), with its
// own broker client id and HTTP port, one share group, and store.postgres through a URL file. One instance can be
// killed with -9 and started again on the same client id and port; which one leads is read from its log.
// The publisher is the bench's too (scripts/bench/ingest-publisher.ts): one login and connection per site, QoS 1.
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { makeSigningKeyFiles } from '../../central/signing-key.js';
import type { CentralChildJob, CentralChildMessage } from '../../scripts/bench/ingest-central.js';
import type { PublisherJob, PublisherMessage } from '../../scripts/bench/ingest-publisher.js';
import { freePort } from './free-port.js';
import { startMosquitto, type RunningMosquitto } from './mosquitto.js';
import { startPostgres, type RunningPostgres } from './postgres.js';
import { childGone, endChild, forkBenchChild, nextMessage } from '../../scripts/bench/bench-child.js';

export const CLUSTER_CENTRAL_PASSWORD = 'central-cluster-pw';
export const CLUSTER_SITE_PASSWORD = 'site-cluster-pw';
export const CLUSTER_SHARE_GROUP = 'central';

export interface CentralClusterOptions {
  /** Central instances (default 3). */
  instances?: number;
  /** Site ids with a login on the broker (each `CLUSTER_SITE_PASSWORD`). */
  sites: readonly string[];
  /**
   * More of central's config for instance k (1-based), beside the broker, http, store and signing the cluster gives
   * it: alerts, members, deploymentKeyFile. `dir` is the cluster's temp folder.
   */
  config?: (k: number, dir: string) => Record<string, unknown>;
  /** The role of each instance's API token (default viewer; an administrator's saves alert rules). */
  tokenRole?: CentralChildJob['tokenRole'];
}

export interface ClusterInstance {
  /** 1-based. */
  readonly k: number;
  readonly clientId: string;
  /** The same across restarts: the port is the instance's own. */
  readonly httpUrl: string;
  /** An API token of `tokenRole` (accounts and tokens are shared on PostgreSQL: any instance's works on all). */
  token: string;
  /** The running process's pid (-1 while it is down). */
  pid(): number;
  running(): boolean;
  /** Its log since its last start (pino JSON lines). */
  log(): string;
  /** Whether its log says it leads now: "this instance leads" with no loss since, and the process alive. */
  leads(): boolean;
  /** GET/PUT/POST to its API with its token; the parsed JSON body and status. */
  api<T = unknown>(path: string, init?: { method?: string; body?: unknown }): Promise<{ status: number; body: T }>;
}

export interface CentralCluster {
  dir: string;
  broker: RunningMosquitto;
  postgres: RunningPostgres;
  /** The history's database. */
  databaseUrl: string;
  tls: { ca: string; cert: string; key: string };
  instances: ClusterInstance[];
  /** kill -9 instance k, and wait until it has gone. */
  kill9(k: number): Promise<void>;
  /** Start instance k again (after kill9 or stop), on its client id, port and folders. */
  start(k: number): Promise<ClusterInstance>;
  /** Instance k's config as its process was given it, written to a file for `oag` commands (JSON is YAML). */
  configFile(k: number): string;
  /** The instances whose logs say they lead now. */
  leaders(): ClusterInstance[];
  /** One query on the history's database. */
  query<R extends Record<string, unknown>>(sql: string, values?: unknown[]): Promise<R[]>;
  /** The bench's publisher: connected (one login per site), its `events` built; `go()` publishes them all at QoS 1. */
  publisher(events: number, options?: { window?: number }): Promise<{ go(): Promise<{ acked: number; failed: number }>; close(): Promise<void> }>;
  /** Every instance closed ("close", then a kill if it has not gone), the broker and PostgreSQL stopped, the folder removed. */
  stop(): Promise<void>;
}

const LEADS = 'leader: this instance leads';
const LOST = /leader: (no longer leading|stopping)/;

export async function startCentralCluster(options: CentralClusterOptions): Promise<CentralCluster> {
  const count = options.instances ?? 3;
  const dir = mkdtempSync(join(tmpdir(), 'oag-central-cluster-'));
  const cleanup: Array<() => Promise<void> | void> = [() => rmSync(dir, { recursive: true, force: true })];
  const stopAll = async (): Promise<void> => {
    for (const c of cleanup.splice(0).reverse()) await Promise.resolve(c()).catch(() => {});
  };
  try {
    const users: Record<string, string> = { central: CLUSTER_CENTRAL_PASSWORD };
    for (const site of options.sites) users[site] = CLUSTER_SITE_PASSWORD;
    const broker = await startMosquitto({ users, centralUser: 'central' });
    cleanup.push(() => broker.stop());
    const postgres = await startPostgres();
    cleanup.push(() => postgres.stop());
    const databaseUrl = await postgres.newDatabase();
    const urlFile = join(dir, 'postgres-url');
    writeFileSync(urlFile, databaseUrl, { mode: 0o600 });
    const tls = { ca: broker.certs.ca, cert: broker.certs.clientCert, key: broker.certs.clientKey };
    const signing = makeSigningKeyFiles(dir);

    const db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    // The pool outlives a PostgreSQL restart in a test: a dropped idle connection must not throw in the test process.
    db.on('error', () => {});
    cleanup.push(() => db.end());

    const children: Array<ChildProcess | null> = Array.from({ length: count }, () => null);
    const starts: number[] = Array.from({ length: count }, () => 0);
    const ports: number[] = [];
    for (let i = 0; i < count; i++) ports.push(await freePort());
    const logFile = (k: number): string => join(dir, `central-${k}.${starts[k - 1]}.log`);

    const instances: ClusterInstance[] = ports.map((port, i) => {
      const k = i + 1;
      const instance: ClusterInstance = {
        k,
        clientId: `oag-central-${k}`,
        httpUrl: `http://127.0.0.1:${port}`,
        token: '',
        pid: () => {
          const c = children[i];
          return c && !childGone(c) ? c.pid! : -1;
        },
        running: () => instance.pid() > 0,
        log: () => (starts[i]! > 0 && existsSync(logFile(k)) ? readFileSync(logFile(k), 'utf8') : ''),
        leads: () => {
          if (!instance.running()) return false;
          const lines = instance.log().split('\n');
          for (let n = lines.length - 1; n >= 0; n--) {
            if (lines[n]!.includes(LEADS)) return true;
            if (LOST.test(lines[n]!)) return false;
          }
          return false;
        },
        api: async <T>(path: string, init: { method?: string; body?: unknown } = {}) => {
          const res = await fetch(`${instance.httpUrl}${path}`, {
            method: init.method ?? 'GET',
            headers: { authorization: `Bearer ${instance.token}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
            ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
          });
          const text = await res.text();
          return { status: res.status, body: (text === '' ? null : JSON.parse(text)) as T };
        },
      };
      return instance;
    });

    const configOf = (k: number): Record<string, unknown> => ({
      broker: { url: broker.url, username: 'central', password: CLUSTER_CENTRAL_PASSWORD, tls, clientId: instances[k - 1]!.clientId, shareGroup: CLUSTER_SHARE_GROUP },
      http: { port: ports[k - 1] },
      store: { path: join(dir, `central-${k}.sqlite`), postgres: { urlFile } },
      signing: { keyFile: signing.keyFile },
      ...options.config?.(k, dir),
    });
    const start = async (k: number): Promise<ClusterInstance> => {
      const i = k - 1;
      const instance = instances[i]!;
      if (instance.running()) throw new Error(`central ${k} is already running`);
      starts[i]! += 1;
      const child = forkBenchChild('ingest-central', '--central');
      children[i] = child;
      const answer = nextMessage<CentralChildMessage>(child, `central ${k}`);
      const job: CentralChildJob = {
        config: configOf(k),
        logFile: logFile(k),
        tokenRole: options.tokenRole ?? 'viewer',
      };
      child.send(job);
      const m = await answer;
      if (!('ready' in m)) {
        await endChild(child);
        throw new Error(`central ${k} did not start: ${m.error}`);
      }
      instance.token = m.token;
      return instance;
    };
    cleanup.push(() => Promise.all(children.map((c) => (c ? endChild(c) : undefined))).then(() => {}));

    // One after the other: instances starting together would all run the migrations' advisory lock dance at once,
    // which works, but a start error then names one instance clearly.
    for (let k = 1; k <= count; k++) await start(k);

    const cluster: CentralCluster = {
      dir,
      broker,
      postgres,
      databaseUrl,
      tls,
      instances,
      kill9: async (k) => {
        const child = children[k - 1];
        if (!child || childGone(child)) return;
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
      },
      start,
      configFile: (k) => {
        const file = join(dir, `central-${k}.yaml`);
        writeFileSync(file, JSON.stringify(configOf(k)), { mode: 0o600 });
        return file;
      },
      leaders: () => instances.filter((i) => i.leads()),
      query: async <R extends Record<string, unknown>>(sql: string, values?: unknown[]) => (await db.query<R>(sql, values)).rows,
      publisher: async (events, o = {}) => {
        const child = forkBenchChild('ingest-publisher', '--publisher');
        const next = async (): Promise<PublisherMessage> => {
          const m = await nextMessage<PublisherMessage>(child, 'the publisher');
          if ('error' in m) throw new Error(`the publisher failed: ${m.error}`);
          return m;
        };
        const job: PublisherJob = { url: broker.url, sites: options.sites, events, password: CLUSTER_SITE_PASSWORD, tls, window: o.window ?? 20 };
        const ready = next();
        child.send(job);
        await ready;
        const close = async (): Promise<void> => {
          if (childGone(child)) return;
          const exited = new Promise((r) => child.once('exit', r));
          child.kill('SIGTERM');
          await exited;
        };
        cleanup.push(close);
        return {
          go: async () => {
            const done = next();
            child.send('go');
            const m = await done;
            if (!('done' in m)) throw new Error('the publisher answered out of turn');
            return { acked: m.acked, failed: m.failed };
          },
          close,
        };
      },
      stop: stopAll,
    };
    return cluster;
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** A folder of the cluster's, made if missing: one per instance for a watched member export, say. */
export function clusterFolder(dir: string, name: string): string {
  const folder = join(dir, name);
  mkdirSync(folder, { recursive: true });
  return folder;
}
