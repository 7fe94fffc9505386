import { randomUUID } from 'node:crypto';
import pino from 'pino';
import type { InjectOptions } from 'fastify';
import { afterEach } from 'vitest';
import { startCentralAlerts } from '../../../central/alerts/central-alerts.js';
import { oidcRoutes } from '../../../central/auth/oidc.js';
import { CentralAuth } from '../../../central/auth/service.js';
import { CentralBus } from '../../../central/bus.js';
import { parseCentralConfig } from '../../../central/config.js';
import { buildHttp } from '../../../central/http/server.js';
import { Ingest } from '../../../central/ingest.js';
import type { CommandOutcome } from '../../../central/link.js';
import { NotConnectedError } from '../../../central/link.js';
import { CentralStore } from '../../../central/store.js';
import { SqliteHistory } from '../../../central/history/sqlite-history.js';
import { topics } from '../../../policies/contract/index.js';
import { TEST_SCRYPT, tokenHeaders } from '../../helpers/central-auth.js';

export class FakeLink {
  connected = true;
  policies: Array<{ site: string; doc: unknown }> = [];
  commands: Array<{ site: string; command: string; actor: string; text?: string | undefined }> = [];
  answer: CommandOutcome['status'] | 'refuse' = 'answered';

  async publishPolicy(site: string, doc: unknown): Promise<void> {
    if (!this.connected) throw new NotConnectedError();
    this.policies.push({ site, doc });
  }
  async sendCommand(site: string, req: { command: string; actor: string; text?: string | undefined }): Promise<CommandOutcome> {
    if (!this.connected) throw new NotConnectedError();
    this.commands.push({ site, ...req });
    const id = randomUUID();
    if (this.answer === 'timeout') return { status: 'timeout', id };
    if (this.answer === 'refuse') return { status: 'answered', id, reply: { ok: false, error: 'not in lockdown', id } };
    return { status: 'answered', id, reply: { ok: true, id } };
  }
}

export function centralParts(now = new Date('2025-06-02T09:30:00.000Z'), logs?: string[]) {
  const clock = { now: () => now, set: (d: Date) => (now = d) };
  const store = new CentralStore(':memory:');
  const history = new SqliteHistory(store);
  const bus = new CentralBus();
  // `logs` collects every line central writes (at debug), for tests that read what it logs.
  const logger = logs === undefined ? pino({ level: process.env.LOG_LEVEL ?? 'silent' }) : pino({ level: 'debug' }, { write: (line: string) => void logs.push(line) });
  const ingest = new Ingest({ prefix: 'oa/v1', store: history, bus, clock, logger });
  /** Resolves once ingest has stored (or refused) the message and told the bus, as the broker's acknowledgement waits. */
  const publish = (site: string, kind: Exclude<keyof ReturnType<typeof topics>, 'root'>, payload: unknown, retain = false): Promise<void> =>
    ingest.handle({ topic: topics('oa/v1', site)[kind], payload: Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)), retain });
  return { clock, store, history, bus, logger, ingest, publish };
}

/** Central's HTTP side on a memory store. `api` calls it as an administrator (an API token); `app` with nothing. */
export async function centralApp(now?: Date, config: Parameters<typeof parseCentralConfig>[0] = {}, options: { logs?: string[] } = {}) {
  const parts = centralParts(now, options.logs);
  const link = new FakeLink();
  const parsed = parseCentralConfig(config);
  const auth = new CentralAuth({ db: parts.store.db, clock: parts.clock, config: parsed.auth, cookieSecure: parsed.http.cookieSecure, logger: parts.logger, scrypt: TEST_SCRYPT });
  const oidc = parsed.oidc && { label: parsed.oidc.label, routes: oidcRoutes({ config: parsed.oidc, startSession: auth.startSession, logger: parts.logger, clock: parts.clock }) };
  // Alerting as central runs it, on the same clock; escalation and the outbox on real timers (tests that step them
  // build their own), closed with the app.
  const alerts = startCentralAlerts({
    db: parts.store.db,
    config: parsed.alerts,
    timezone: 'Europe/London',
    publicUrl: () => parsed.http.publicUrl ?? 'http://127.0.0.1:8090',
    clock: parts.clock,
    logger: parts.logger,
    bus: parts.bus,
    site: (id) => parts.history.site(id),
  });
  const { app, inventory } = await buildHttp({ ...parts, store: parts.history, link, timezone: 'Europe/London', auth, alerts, trustProxy: parsed.http.trustProxy, allowedHosts: parsed.http.allowedHosts, oidc });
  app.addHook('onClose', async () => alerts.close());
  const admin = await tokenHeaders(auth, 'administrator');
  const api = (options: string | InjectOptions) => {
    const o = typeof options === 'string' ? { url: options } : options;
    return app.inject({ ...o, headers: { ...admin, ...(o.headers ?? {}) } });
  };
  return { ...parts, link, app, inventory, auth, alerts, api };
}

export type CentralApp = Awaited<ReturnType<typeof centralApp>>;

/** `centralApp` for a file's tests: the app a test started last is closed, with its store, after the test. */
export function centralAppPerTest(): typeof centralApp {
  let current: CentralApp | null = null;
  afterEach(async () => {
    await current?.app.close();
    current?.store.close();
    current = null;
  });
  return async (...args) => (current = await centralApp(...args));
}
