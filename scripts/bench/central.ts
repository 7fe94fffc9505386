// Central's benchmark: events per second sustained from 1,000 sites into SQLite, and gateway-state-change → tile
// update latency (server-sent events) with 100 sites. Everything on loopback, bounded in count and time.
//
// Sites are real MQTT connections, one per site, each publishing under its own topic (not one client faking
// 1,000 topics): that is the fan-in the broker and central's single subscription see in the field. The sites run
// in a worker thread; broker (central's embedded aedes) and central share the main thread, and all of it shares
// the machine's two cores, so the figure is a floor for central on its own box.
//
//   npx tsx scripts/bench/central.ts [--sites 1000] [--events 50000] [--latency-sites 100] [--samples 200]
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import pino from 'pino';
import { parseCentralConfig, startCentral, type RunningCentral } from '../../central/main.js';
import { writePasswordFile } from '../../central/mqtt-passwords.js';
import { makeSigningKeyFiles } from '../../central/signing-key.js';
import { Uplink } from '../../gateway/uplink/index.js';
import { UplinkConfigSchema } from '../../gateway/uplink/types.js';
import type { GatewayState } from '../../policies/contract/index.js';

export interface CentralBenchOptions {
  sites?: number;
  events?: number;
  latencySites?: number;
  samples?: number;
  /** Upper bound for each part. */
  maxSeconds?: number;
}

export interface IngestFigures {
  broker: string;
  sites: number;
  events: number;
  stored: number;
  seconds: number;
  eventsPerSecond: number;
  connectSeconds: number;
}

export interface CentralBenchResult {
  ingest: IngestFigures;
  /** The same through Debian's mosquitto (null when it is not installed). */
  ingestMosquitto: IngestFigures | null;
  latency: { sites: number; samples: number; medianMs: number; p95Ms: number; maxMs: number; debounceMs: number };
}

const quiet = pino({ level: 'silent' });
const clock = { now: () => new Date() };

interface ExternalBroker {
  url: string;
  tls: { ca: string; cert: string; key: string };
  centralUser: string;
  centralPassword: string;
}

/** Every bench site logs in with this password, on either broker. */
const SITE_PASSWORD = 'pw';

/**
 * `sites`: who may log in to the embedded broker (all with SITE_PASSWORD). `fn` gets central and its public key
 * files (made with it), for the branches the bench connects.
 */
async function withCentral<T>(sites: string[], fn: (c: RunningCentral, centralKeys: string[]) => Promise<T>, broker?: ExternalBroker): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'oag-bench-central-'));
  let where;
  if (broker) {
    where = { broker: { url: broker.url, username: broker.centralUser, password: broker.centralPassword, tls: broker.tls, clientId: `oag-central-bench-${Date.now()}` } };
  } else {
    const passwordFile = join(dir, 'mqtt-passwords');
    await writePasswordFile(passwordFile, Object.fromEntries(sites.map((site) => [site, SITE_PASSWORD])));
    where = { embedded: { port: 0, passwordFile } };
  }
  const signing = makeSigningKeyFiles(dir);
  const c = await startCentral(parseCentralConfig({ ...where, http: { port: 0 }, store: { path: join(dir, 'central.sqlite') }, signing: { keyFile: signing.keyFile } }), {
    clock,
    logger: quiet,
  });
  try {
    return await fn(c, [signing.publicFile]);
  } finally {
    await c.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const requireHere = createRequire(import.meta.url);

// Plain JavaScript for the worker thread: connect the sites (in batches of 100: a thousand simultaneous handshakes
// are a thundering herd, not a benchmark), then each publishes its events in order, one in flight at a time.
const PUBLISHER = `
const { parentPort, workerData } = require('node:worker_threads');
const { connect } = require(workerData.mqtt);
const { url, sites, perSite, maxMs, tls, password } = workerData;
const fs = require('node:fs');
const secure = tls ? { ca: fs.readFileSync(tls.ca), cert: fs.readFileSync(tls.cert), key: fs.readFileSync(tls.key) } : {};
const crockford = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
let seq = 0;
function id(ms) {
  let t = ms, head = '';
  for (let i = 0; i < 10; i++) { head = crockford[t % 32] + head; t = Math.floor(t / 32); }
  let n = seq++, tail = '';
  for (let i = 0; i < 16; i++) { tail = crockford[n % 32] + tail; n = Math.floor(n / 32); }
  return head + tail;
}
(async () => {
  const t0 = Date.now();
  const clients = [];
  for (let i = 0; i < sites; i += 100) {
    const batch = Array.from({ length: Math.min(100, sites - i) }, (_, k) => connect(url, { protocolVersion: tls ? 5 : 4, clientId: 'bench-site-' + (i + k), reconnectPeriod: 0, username: 's' + String(i + k).padStart(4, '0'), password, ...secure }));
    await Promise.all(batch.map((c) => new Promise((res, rej) => { c.once('connect', res); c.once('error', rej); })));
    clients.push(...batch);
  }
  const startAt = Date.now();
  parentPort.postMessage({ connectMs: startAt - t0, startAt });
  const deadline = startAt + maxMs;
  await Promise.all(clients.map(async (client, i) => {
    const site = 's' + String(i).padStart(4, '0');
    const topic = 'oa/v1/sites/' + site + '/events';
    for (let n = 1; n <= perSite && Date.now() < deadline; n++) {
      const at = new Date();
      const event = { id: id(at.getTime()), at: at.toISOString(), site, type: 'occupancy', change: 'entry', inside: n };
      await client.publishAsync(topic, JSON.stringify(event), { qos: 1 });
    }
  }));
})();
`;

/** Central answers nobody without credentials: a viewer's API token, one per central. */
const viewers = new WeakMap<RunningCentral, Promise<Record<string, string>>>();
function viewer(c: RunningCentral): Promise<Record<string, string>> {
  // The promise is kept, not the headers: two callers at once must not make two tokens of one name.
  let headers = viewers.get(c);
  if (headers === undefined) viewers.set(c, (headers = c.auth.tokens.create({ name: 'bench', role: 'viewer', expiresDays: 1 }, 'bench').then(({ token }) => ({ authorization: `Bearer ${token}` }))));
  return headers;
}

async function stats(c: RunningCentral): Promise<{ events: number }> {
  return (await (await fetch(`${c.httpUrl}/api/stats`, { headers: await viewer(c) })).json()) as { events: number };
}

/** `s0000`, `s0001`…: the ingest bench's sites. */
const ingestSite = (i: number): string => `s${String(i).padStart(4, '0')}`;

async function ingest(sites: number, events: number, maxSeconds: number, broker?: ExternalBroker): Promise<CentralBenchResult['ingest']> {
  const names = Array.from({ length: sites }, (_, i) => ingestSite(i));
  return withCentral(names, async (c) => {
    const perSite = Math.ceil(events / sites);
    const deadline = Date.now() + maxSeconds * 1000;
    // The 1,000 sites run in a worker thread, so that their mqtt.js clients do not share central's thread.
    const worker = new Worker(PUBLISHER, {
      eval: true,
      workerData: { url: c.brokerUrl, sites, perSite, maxMs: maxSeconds * 1000, mqtt: requireHere.resolve('mqtt'), tls: broker?.tls, password: SITE_PASSWORD },
    });
    const timing = await new Promise<{ connectMs: number; startAt: number }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    const connectSeconds = timing.connectMs / 1000;
    const start = timing.startAt;
    const sent = perSite * sites;
    let stored = (await stats(c)).events;
    while (stored < sent && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      stored = (await stats(c)).events;
    }
    const seconds = (Date.now() - start) / 1000;
    await worker.terminate();
    return { sites, events: sent, stored, seconds, eventsPerSecond: stored / seconds, connectSeconds, broker: broker ? 'mosquitto (TLS, MQTT 5, ACL)' : 'embedded aedes' };
  }, broker);
}

/** The same ingest through Debian's mosquitto in its own process (TLS, passwords, the per-site ACL), when installed. */
async function ingestViaMosquitto(sites: number, events: number, maxSeconds: number): Promise<CentralBenchResult['ingest'] | null> {
  if (!existsSync('/usr/sbin/mosquitto')) return null;
  const { startMosquitto } = await import('../../test/helpers/mosquitto.js');
  const users: Record<string, string> = { central: 'central-pw' };
  for (let i = 0; i < sites; i++) users[ingestSite(i)] = SITE_PASSWORD;
  const m = await startMosquitto({ users, centralUser: 'central' });
  try {
    const tls = { ca: m.certs.ca, cert: m.certs.clientCert, key: m.certs.clientKey };
    return await ingest(sites, events, maxSeconds, { url: m.url, tls, centralUser: 'central', centralPassword: 'central-pw' });
  } finally {
    await m.stop();
  }
}

/** Reads a server-sent event stream and calls `onSite` for every `site` message. */
async function listen(url: string, onSite: (site: { id: string; state: GatewayState | null }) => void, signal: AbortSignal, headers: Record<string, string> = {}): Promise<void> {
  const res = await fetch(url, { signal, headers });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event === 'site' && data) onSite(JSON.parse(data) as { id: string; state: GatewayState | null });
        }
      }
    } catch {
      // aborted at the end
    }
  })();
}

function baseState(site: string): GatewayState {
  return {
    site,
    at: new Date().toISOString(),
    mode: 'open-access',
    modeSince: null,
    modeUntil: null,
    door: 'locked',
    lights: true,
    occupancy: { inside: 0, capacity: 40 },
    alarms: [],
    memberList: null,
    policy: { version: 1, source: 'file' },
    clock: { trusted: true },
    readers: [],
  };
}

/** `g000`, `g001`…: the latency bench's gateways. */
const latencySite = (i: number): string => `g${String(i).padStart(3, '0')}`;

async function latency(siteCount: number, samples: number, maxSeconds: number): Promise<CentralBenchResult['latency']> {
  const names = Array.from({ length: siteCount }, (_, i) => latencySite(i));
  return withCentral(names, async (c, centralKeys) => {
    // Real gateway uplinks: a state change goes through the uplink's 100 ms debounce, the broker, ingest, SQLite
    // and the SSE stream, as a tap's occupancy change does.
    const gateways = Array.from({ length: siteCount }, (_, i) => {
      const site = latencySite(i);
      let state = baseState(site);
      const listeners = new Set<() => void>();
      const uplink = new Uplink({
        config: UplinkConfigSchema.parse({ url: c.brokerUrl, protocolVersion: 4, username: site, password: SITE_PASSWORD, centralKeys }),
        site,
        outbox: { unpublished: () => [], markPublished: () => {} },
        state: { current: () => state, onChange: (l) => (listeners.add(l), () => listeners.delete(l)) },
        commands: { execute: async () => ({ ok: true }) },
        policy: { offer: () => ({ ok: false, errors: [] }) },
        clock,
        logger: quiet,
      });
      uplink.start();
      const set = (inside: number): void => {
        state = { ...state, at: new Date().toISOString(), occupancy: { inside, capacity: 40 } };
        for (const l of listeners) l();
      };
      return { site, uplink, set };
    });
    const deadline = Date.now() + maxSeconds * 1000;
    while (gateways.some((g) => !g.uplink.connected) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));

    const abort = new AbortController();
    const waiting = new Map<string, { inside: number; t0: number; done: (ms: number) => void }>();
    await listen(`${c.httpUrl}/api/live`, (s) => {
      const w = waiting.get(s.id);
      if (w && s.state?.occupancy.inside === w.inside) {
        waiting.delete(s.id);
        w.done(performance.now() - w.t0);
      }
    }, abort.signal, await viewer(c));
    await new Promise((r) => setTimeout(r, 300));

    const times: number[] = [];
    for (let k = 1; k <= samples && Date.now() < deadline; k++) {
      const g = gateways[k % gateways.length]!;
      const ms = await new Promise<number>((resolve) => {
        const t0 = performance.now();
        const timer = setTimeout(() => resolve(Number.NaN), 5000);
        waiting.set(g.site, { inside: k, t0, done: (v) => (clearTimeout(timer), resolve(v)) });
        g.set(k);
      });
      if (!Number.isNaN(ms)) times.push(ms);
    }
    abort.abort();
    await Promise.all(gateways.map((g) => g.uplink.stop()));
    times.sort((a, b) => a - b);
    const q = (p: number): number => times[Math.min(times.length - 1, Math.floor(p * times.length))] ?? Number.NaN;
    return { sites: siteCount, samples: times.length, medianMs: q(0.5), p95Ms: q(0.95), maxMs: times.at(-1) ?? Number.NaN, debounceMs: 100 };
  });
}

export async function benchCentral(options: CentralBenchOptions = {}): Promise<CentralBenchResult> {
  const maxSeconds = options.maxSeconds ?? 60;
  const ing = await ingest(options.sites ?? 1000, options.events ?? 50_000, maxSeconds);
  const viaMosquitto = await ingestViaMosquitto(options.sites ?? 1000, options.events ?? 50_000, maxSeconds);
  const lat = await latency(options.latencySites ?? 100, options.samples ?? 200, maxSeconds);
  return { ingest: ing, ingestMosquitto: viaMosquitto, latency: lat };
}

export function printCentralBench(r: CentralBenchResult): void {
  for (const i of [r.ingest, r.ingestMosquitto]) {
    if (!i) {
      console.log('central ingest via mosquitto: skipped (apt-get install mosquitto)');
      continue;
    }
    console.log(`central ingest: ${i.sites} sites (one MQTT connection each) via ${i.broker}, SQLite WAL on disk`);
    console.log(`  ${i.stored}/${i.events} events stored in ${i.seconds.toFixed(2)} s → ${Math.round(i.eventsPerSecond)} events/s (connecting ${i.connectSeconds.toFixed(1)} s)`);
  }
  const l = r.latency;
  console.log(`gateway state change → dashboard SSE update, ${l.sites} sites, ${l.samples} samples (includes the uplink's ${l.debounceMs} ms debounce)`);
  console.log(`  median ${l.medianMs.toFixed(1)} ms, p95 ${l.p95Ms.toFixed(1)} ms, max ${l.maxMs.toFixed(1)} ms`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name: string, def: number): number => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : def;
  };
  const r = await benchCentral({ sites: arg('sites', 1000), events: arg('events', 50_000), latencySites: arg('latency-sites', 100), samples: arg('samples', 200) });
  printCentralBench(r);
  process.exit(0);
}
