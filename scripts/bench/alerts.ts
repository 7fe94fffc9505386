// The alert outbox's benchmark, for issue #14's goal: alarm raised → message accepted by the SMTP server, p95 under
// 2 s with 1,000 sites and a burst of 100 simultaneous incidents. Three figures for the same burst, each against a
// real SMTP server (smtp-server, STARTTLS with a certificate made for the run by openssl) in a worker thread, as a
// relay would be on its own box:
//
//   - the floor: the same number of messages handed to nodemailer's pooled transport at once, no outbox;
//   - the outbox: each incident's messages enqueued (one transaction per incident, as the planner does), sent by the
//     worker through the e-mail channel, timed from enqueue to the server's 250;
//   - the whole of central's side: each incident raised in central's incidents (100 of 1,000 sites), the escalation
//     scheduler's tick, the rules, the hand-over into the outbox, a link issued per message, and the send.
//
// The outbox table holds `historyRows` finished rows first (ten a site for 1,000 sites), as after weeks of use.
//
//   npx tsx scripts/bench/alerts.ts [--incidents 100] [--recipients 3] [--history-rows 10000] [--connections 4] [--rounds 3]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { createTransport } from 'nodemailer';
import pino from 'pino';
import { createAlerts } from '../../central/alerts/alerts.js';
import { parseAlertChannelsConfig } from '../../central/alerts/channels-config.js';
import { createAlertChannels } from '../../central/alerts/channels/create.js';
import { SqliteAlertsStore } from '../../central/alerts/sqlite-alerts-store.js';
import { Outbox, deliveryId, type NotificationRequest, type OutboxRow } from '../../central/alerts/outbox.js';
import { createIncidentOutbox } from '../../central/alerts/outbox-sink.js';

export interface AlertsBenchOptions {
  incidents?: number;
  /** People told of each incident, each by e-mail. */
  recipients?: number;
  /** Finished rows in the outbox table before the burst. */
  historyRows?: number;
  /** SMTP connections (the e-mail channel's maxConnections, and the floor's pool). */
  connections?: number;
  /** Each figure is measured this many times, interleaved, and the round with the median p95 is reported. */
  rounds?: number;
  /** Upper bound for each part. */
  maxSeconds?: number;
}

export interface Latencies {
  messages: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
  /** From the first hand-over to the last message accepted. */
  allMs: number;
}

export interface AlertsBenchResult {
  incidents: number;
  recipients: number;
  historyRows: number;
  connections: number;
  rounds: number;
  floor: Latencies;
  outbox: Latencies;
  incidentToAccepted: Latencies;
  /** outbox p95 / floor p95. */
  ratioP95: number;
}

const requireHere = createRequire(import.meta.url);
const quiet = pino({ level: 'silent' });
const FROM = 'alarms@bench.example.org';

// The SMTP server, in plain JavaScript for the worker: it says when it accepted each message, by Message-ID, on the
// clock both threads share (timeOrigin + now).
const SERVER = `
const { parentPort, workerData } = require('node:worker_threads');
const { performance } = require('node:perf_hooks');
const { SMTPServer } = require(workerData.smtpServer);
const server = new SMTPServer({
  secure: false, key: workerData.key, cert: workerData.cert, authOptional: true, disabledCommands: ['AUTH'], logger: false,
  maxClients: 200, closeTimeout: 100,
  onData(stream, session, callback) {
    let head = '';
    stream.on('data', (c) => { if (head.length < 16384) head += c.toString('latin1'); });
    stream.on('end', () => {
      const m = /^message-id:\\s*<([^>]+)>/im.exec(head);
      const at = performance.timeOrigin + performance.now();
      callback();
      parentPort.postMessage({ id: m ? m[1] : null, at });
    });
  },
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.server.address().port }));
parentPort.on('message', (m) => { if (m === 'close') server.close(() => process.exit(0)); });
`;

const now = (): number => performance.timeOrigin + performance.now();

interface Sink {
  port: number;
  /** Resolves with each Message-ID's acceptance time once all `ids` have been accepted. */
  accepted(ids: readonly string[], maxMs: number): Promise<Map<string, number>>;
  /** Resolves once `n` messages have been accepted since the last reset. */
  count(n: number, maxMs: number): Promise<void>;
  /** Forgets what was accepted: each run of the incident path starts a new database, and its ids again from 1. */
  reset(): void;
  close(): Promise<void>;
}

async function startSink(tls: { key: string; cert: string }): Promise<Sink> {
  const worker = new Worker(SERVER, { eval: true, workerData: { smtpServer: requireHere.resolve('smtp-server'), ...tls } });
  const seen = new Map<string, number>();
  let waiting: (() => void) | undefined;
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('error', reject);
    worker.on('message', (m: { port?: number; id?: string | null; at?: number }) => {
      if (m.port !== undefined) return resolve(m.port);
      if (m.id) seen.set(m.id, m.at ?? 0);
      waiting?.();
    });
  });
  return {
    port,
    accepted(ids, maxMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`alerts bench: ${ids.filter((id) => !seen.has(id)).length} of ${ids.length} messages not accepted within ${maxMs} ms`)), maxMs);
        const check = (): void => {
          if (!ids.every((id) => seen.has(id))) return;
          clearTimeout(timer);
          waiting = undefined;
          resolve(new Map(ids.map((id) => [id, seen.get(id)!])));
        };
        waiting = check;
        check();
      });
    },
    count(n, maxMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`alerts bench: ${seen.size} of ${n} messages accepted within ${maxMs} ms`)), maxMs);
        const check = (): void => {
          if (seen.size < n) return;
          clearTimeout(timer);
          waiting = undefined;
          resolve();
        };
        waiting = check;
        check();
      });
    },
    reset() {
      seen.clear();
    },
    async close() {
      worker.postMessage('close');
      await new Promise((resolve) => worker.once('exit', resolve));
    },
  };
}

/** A key and a certificate for 127.0.0.1, made for this run. */
function makeTls(dir: string): { key: string; cert: string; caFile: string } {
  const keyFile = join(dir, 'key.pem');
  const caFile = join(dir, 'cert.pem');
  try {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', caFile, '-days', '2', '-subj', '/CN=oag-bench-smtp', '-addext', 'subjectAltName=IP:127.0.0.1'],
      { stdio: 'ignore' },
    );
  } catch (error) {
    throw new Error(`alerts bench: openssl is needed to make the SMTP server's certificate (apt-get install openssl): ${(error as Error).message}`);
  }
  return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(caFile, 'utf8'), caFile };
}

function latencies(starts: ReadonlyMap<string, number>, accepted: ReadonlyMap<string, number>): Latencies {
  const ms = [...starts].map(([id, t0]) => accepted.get(id)! - t0).sort((a, b) => a - b);
  const at = (p: number): number => ms[Math.min(ms.length - 1, Math.max(0, Math.ceil(p * ms.length) - 1))]!;
  const first = Math.min(...starts.values());
  const last = Math.max(...accepted.values());
  return { messages: ms.length, p50Ms: at(0.5), p95Ms: at(0.95), maxMs: ms[ms.length - 1]!, allMs: last - first };
}

function medianRound(rounds: Latencies[]): Latencies {
  return [...rounds].sort((a, b) => a.p95Ms - b.p95Ms)[Math.floor((rounds.length - 1) / 2)]!;
}

function fillHistory(db: Database.Database, rows: number): void {
  if (rows <= 0) return;
  const insert = db.prepare(
    `INSERT INTO alert_outbox (incident_id, step, repeat, recipient_id, address, channel, priority, subject, body, state, attempts, created_ms, finished_ms)
     VALUES (?, 0, 0, ?, ?, 'email', 1, 'history', 'history', 'delivered', 1, ?, ?)`,
  );
  const t = Date.now() - 30 * 86_400_000;
  db.transaction(() => {
    for (let i = 0; i < rows; i++) insert.run(`old-${i}`, `person-${i % 50}`, `person-${i % 50}@bench.example.org`, t + i, t + i + 500);
  })();
}

function openDb(dir: string, name: string): Database.Database {
  const db = new Database(join(dir, name));
  // As central's store opens it.
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  return db;
}

function channelsFor(port: number, caFile: string, connections: number) {
  return createAlertChannels(
    parseAlertChannelsConfig({ channels: { email: { type: 'email', host: '127.0.0.1', port, security: 'starttls', caFile, from: FROM, maxConnections: connections } } }),
    { clock: { now: () => new Date() } },
  );
}

const OUTBOX_CONFIG = { concurrency: 16, channelConcurrency: 8 };

async function floor(sink: Sink, caFile: string, connections: number, count: number, maxMs: number, tag: string): Promise<Latencies> {
  const transport = createTransport({
    pool: true,
    maxConnections: connections,
    host: '127.0.0.1',
    port: sink.port,
    secure: false,
    requireTLS: true,
    tls: { ca: readFileSync(caFile, 'utf8') },
  });
  try {
    const starts = new Map<string, number>();
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < count; i++) {
      const id = `${tag}-${i}@bench.example.org`;
      starts.set(id, now());
      sends.push(transport.sendMail({ from: FROM, to: `person-${i}@bench.example.org`, subject: `[CRITICAL] fire at site-${i}`, text: 'x'.repeat(600), messageId: `<${id}>` }));
    }
    await Promise.all(sends);
    return latencies(starts, await sink.accepted([...starts.keys()], maxMs));
  } finally {
    transport.close();
  }
}

async function viaOutbox(sink: Sink, dir: string, caFile: string, o: Required<AlertsBenchOptions>, tag: string): Promise<Latencies> {
  const db = openDb(dir, `${tag}.sqlite`);
  const channels = channelsFor(sink.port, caFile, o.connections);
  const outbox = new Outbox({ store: new SqliteAlertsStore(db), channels: channels.byName, clock: { now: () => new Date() }, logger: quiet, config: OUTBOX_CONFIG });
  try {
    fillHistory(db, o.historyRows);
    outbox.start();
    const starts = new Map<string, number>();
    for (let i = 0; i < o.incidents; i++) {
      const requests: NotificationRequest[] = Array.from({ length: o.recipients }, (_, r) => ({
        incidentId: `${tag}-${i}`,
        step: 0,
        channel: 'email',
        recipient: { id: `person-${r}`, address: `person-${r}@bench.example.org` },
        severity: 'critical',
        subject: `[CRITICAL] fire at site-${(i * 10) % 1000}`,
        text: 'x'.repeat(600),
      }));
      const t0 = now();
      await outbox.enqueue(requests);
      for (const request of requests) {
        starts.set(`${deliveryId({ incidentId: request.incidentId, step: 0, repeat: 0, recipientId: request.recipient.id, channel: 'email' })}@bench.example.org`, t0);
      }
    }
    const accepted = await sink.accepted([...starts.keys()], o.maxSeconds * 1000);
    await outbox.idle();
    return latencies(starts, accepted);
  } finally {
    await outbox.stop();
    await channels.close();
    db.close();
  }
}

async function fromIncidents(sink: Sink, dir: string, caFile: string, o: Required<AlertsBenchOptions>, tag: string): Promise<Latencies> {
  const db = openDb(dir, `${tag}.sqlite`);
  sink.reset();
  const clock = { now: () => new Date() };
  const store = new SqliteAlertsStore(db);
  const alerts = createAlerts({ store, timezone: 'Europe/London', clock, logger: quiet, linkPrefix: 'https://central.bench.example.org/ack/' });
  const people = Array.from({ length: o.recipients }, (_, r) => ({ name: `Person ${r}`, email: `person-${r}@bench.example.org` }));
  const saved = await alerts.rules.save(
    { contacts: people, rules: [{ id: 'fire', alarms: ['fire'], steps: [{ afterMinutes: 0, contacts: people.map((p) => p.name) }] }] },
    { actor: 'admin:bench', at: clock.now() },
  );
  if (!saved.ok) throw new Error(`alerts bench: rules refused: ${JSON.stringify(saved)}`);
  const channels = channelsFor(sink.port, caFile, o.connections);
  const wired = createIncidentOutbox({ store, channels: channels.byName, clock, logger: quiet, config: OUTBOX_CONFIG, reports: alerts.incidents, links: alerts.links, changes: alerts.incidents });
  try {
    fillHistory(db, o.historyRows);
    wired.outbox.start();
    alerts.start(wired.sink);
    const raisedAt = new Map<number, number>();
    for (let i = 0; i < o.incidents; i++) {
      // 100 of 1,000 sites at once.
      const site = `site-${String((i * 10) % 1000).padStart(4, '0')}`;
      const t0 = now();
      const incident = await alerts.incidents.alarm({ site, alarm: 'fire', state: 'raised', severity: 'critical', at: new Date().toISOString() }, clock.now());
      if (incident === null) throw new Error('alerts bench: the alarm did not open an incident');
      raisedAt.set(incident.id, t0);
    }
    // Counted, not looked up while it runs: reading the outbox would compete with the sends for the one thread.
    await sink.count(raisedAt.size * o.recipients, o.maxSeconds * 1000);
    const rows: OutboxRow[] = (await Promise.all([...raisedAt.keys()].map((id) => wired.outbox.forIncident(String(id))))).flat();
    const starts = new Map(rows.map((row) => [`${deliveryId(row)}@bench.example.org`, raisedAt.get(Number(row.incidentId))!]));
    const accepted = await sink.accepted([...starts.keys()], o.maxSeconds * 1000);
    return latencies(starts, accepted);
  } finally {
    await alerts.stop();
    await wired.stop();
    await channels.close();
    db.close();
  }
}

export async function benchAlerts(options: AlertsBenchOptions = {}): Promise<AlertsBenchResult> {
  const o: Required<AlertsBenchOptions> = { incidents: 100, recipients: 3, historyRows: 10_000, connections: 4, rounds: 3, maxSeconds: 60, ...options };
  const dir = mkdtempSync(join(tmpdir(), 'oag-bench-alerts-'));
  const tls = makeTls(dir);
  const sink = await startSink(tls);
  try {
    const count = o.incidents * o.recipients;
    // Warm both paths (JIT, TLS, SQLite's caches) with a small burst each before measuring.
    await floor(sink, tls.caFile, o.connections, 20, o.maxSeconds * 1000, 'warm-floor');
    await viaOutbox(sink, dir, tls.caFile, { ...o, incidents: 5, historyRows: 0 }, 'warm-outbox');
    // Interleaved, so that a noisy neighbour on the machine weighs on all three alike.
    const floors: Latencies[] = [];
    const outboxes: Latencies[] = [];
    const wholes: Latencies[] = [];
    for (let round = 0; round < o.rounds; round++) {
      floors.push(await floor(sink, tls.caFile, o.connections, count, o.maxSeconds * 1000, `floor-${round}`));
      outboxes.push(await viaOutbox(sink, dir, tls.caFile, o, `outbox-${round}`));
      wholes.push(await fromIncidents(sink, dir, tls.caFile, o, `incidents-${round}`));
    }
    const f = medianRound(floors);
    const out = medianRound(outboxes);
    return {
      incidents: o.incidents,
      recipients: o.recipients,
      historyRows: o.historyRows,
      connections: o.connections,
      rounds: o.rounds,
      floor: f,
      outbox: out,
      incidentToAccepted: medianRound(wholes),
      ratioP95: out.p95Ms / f.p95Ms,
    };
  } finally {
    await sink.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function printAlertsBench(r: AlertsBenchResult): void {
  const line = (name: string, l: Latencies): string =>
    `  ${name.padEnd(34)} ${String(l.messages).padStart(6)} ${l.p50Ms.toFixed(0).padStart(8)} ${l.p95Ms.toFixed(0).padStart(8)} ${l.maxMs.toFixed(0).padStart(8)} ${l.allMs.toFixed(0).padStart(10)}`;
  console.log(
    `alert e-mail: a burst of ${r.incidents} incidents × ${r.recipients} recipients, SMTP on loopback (STARTTLS, ${r.connections} connections), outbox with ${r.historyRows} finished rows; median of ${r.rounds} rounds`,
  );
  console.log(`  ${''.padEnd(34)} ${'msgs'.padStart(6)} ${'p50 ms'.padStart(8)} ${'p95 ms'.padStart(8)} ${'max ms'.padStart(8)} ${'all ms'.padStart(10)}`);
  console.log(line('nodemailer directly (floor)', r.floor));
  console.log(line('outbox: enqueue → accepted', r.outbox));
  console.log(line('incident raised → accepted', r.incidentToAccepted));
  console.log(`  outbox p95 / floor p95: ${r.ratioP95.toFixed(2)}; goal for incident → accepted p95: < 2000 ms`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name: string, def: number): number => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : def;
  };
  printAlertsBench(
    await benchAlerts({
      incidents: arg('incidents', 100),
      recipients: arg('recipients', 3),
      historyRows: arg('history-rows', 10_000),
      connections: arg('connections', 4),
      rounds: arg('rounds', 3),
    }),
  );
  process.exit(0);
}
