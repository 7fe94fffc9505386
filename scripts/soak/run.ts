// `npm run soak [-- --minutes N | --quick] [--parts http,mqtt,files,faults] [--seed N] [--keep]`: the gateway under malformed input and under
// faults, for a bounded time, outside CI. Needs mosquitto and openssl (scripts/install-test-deps.sh).
//
//   fuzz    every route of the local API and console (without and with a console session), every MQTT topic the
//           gateway subscribes to (through a real broker), gateway config and policy files through check-config
//           (in process, and the CLI for a sample), member exports through the branch import
//   faults  broker outages and kill -9 of the gateway while taps go on; then what the gateway generated against
//           what central stored
//
// Each part runs until its target count or its share of the time, whichever comes first; the summary shows both.
// Exit status 0 when every goal is met (counts of crashes, 5xx, state changes, lost and doubled events all 0,
// every target reached), 1 otherwise. Inputs behind any finding are kept in the work folder, which is then kept.
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { parse as parseYaml } from 'yaml';
import { parseCentralConfig, startCentral } from '../../central/main.js';
import type { RunningCentral } from '../../central/main.js';
import { deploymentKeyId } from '../../gateway/core/cards.js';
import { EventSchema } from '../../policies/contract/index.js';
import { addConsoleUser } from '../../gateway/console/index.js';
import { openConsoleDb } from '../../gateway/console/db.js';
import { ConsoleSessions } from '../../gateway/console/sessions.js';
import { openStore } from '../../gateway/store/index.js';
import type { Store } from '../../gateway/store/index.js';
import { GatewayProcess, TEST_KEY_HEX, seedMembers, sleep, writeGatewayFiles } from '../../test/helpers/gateway-process.js';
import { freePort, startMosquitto } from '../../test/helpers/mosquitto.js';
import { testSigningKey } from '../../test/helpers/signing-keys.js';
import type { RunningMosquitto } from '../../test/helpers/mosquitto.js';
import { runFaults } from './faults.js';
import type { FaultCounts } from './faults.js';
import { checkInProcess, checkWithCli, configTemplate, csvTemplate, importOnce, malformedDocument, policyTemplate, writeInput } from './file-fuzz.js';
import { GatewayWatch, difference } from './fingerprint.js';
import type { Fingerprint } from './fingerprint.js';
import { RequestMaker, isConsole, operations, send } from './http-fuzz.js';
import type { Generated, Operation, SessionCredentials } from './http-fuzz.js';
import { MqttFuzzer, malformedMessage, topicSurfaces } from './mqtt-fuzz.js';
import { Rng, mutateText } from './mutate.js';

const root = resolve(import.meta.dirname, '..', '..');
const FUZZ_SITE = 'soak';
const FAULT_SITE = 'soak-faults';
const MANAGER = 'soak-manager';
const MANAGER_PASSWORD = 'soak manager password';
/** Enough for every target (10,000 inputs a surface, 100 outages, 200 kills) on a 2-core VM; less time, fewer inputs. */
const DEFAULT_MINUTES = 35;
const PASSWORDS = { central: 'soak-central-pw', [FUZZ_SITE]: 'soak-pw', [FAULT_SITE]: 'soak-faults-pw' };

const PARTS = ['http', 'mqtt', 'files', 'faults'] as const;
type Part = (typeof PARTS)[number];

interface Options {
  minutes: number;
  quick: boolean;
  seed: number;
  keep: boolean;
  parts: Set<Part>;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string' },
      quick: { type: 'boolean', default: false },
      seed: { type: 'string' },
      keep: { type: 'boolean', default: false },
      parts: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(`npm run soak -- [--minutes N (default ${DEFAULT_MINUTES})] [--quick (1 minute, small targets)] [--parts ${PARTS.join(',')} (default all)] [--seed N] [--keep (keep the work folder)]`);
    process.exit(0);
  }
  const minutes = values.minutes === undefined ? (values.quick ? 1 : DEFAULT_MINUTES) : Number(values.minutes);
  if (!Number.isFinite(minutes) || minutes <= 0) throw new Error('--minutes must be a positive number');
  const parts = new Set((values.parts ?? PARTS.join(',')).split(',').map((p) => p.trim()));
  const unknown = [...parts].filter((p) => !(PARTS as readonly string[]).includes(p));
  if (unknown.length > 0) throw new Error(`--parts: no part ${unknown.join(', ')} (have ${PARTS.join(', ')})`);
  return { minutes, quick: values.quick, seed: values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed), keep: values.keep, parts: parts as Set<Part> };
}

interface SurfaceRow {
  surface: string;
  startedAt: number;
  target: number;
  inputs: number;
  skippedValid: number;
  crashes: number;
  serverErrors: number;
  stateChanges: number;
  /** Anything else worth a look: refusals recorded, transport errors, accepted files. */
  note: string;
}

/** Shares the time left before `end` among the parts still to run: what one finishes early, the next may use. */
function shareOf(end: number, remainingParts: number): number {
  return Date.now() + Math.max(0, end - Date.now()) / Math.max(1, remainingParts);
}

/**
 * The run's time, shared among its parts by what each is expected to cost (seconds, as measured on a 2-core VM);
 * each part's deadline is asked for as it starts, so time one part leaves over goes to the ones after it.
 */
class Planner {
  private readonly costs = new Map<string, number>();

  constructor(private readonly end: number) {}

  cost(name: string, seconds: number): void {
    this.costs.set(name, seconds);
  }

  deadline(name: string): number {
    const names = [...this.costs.keys()];
    const rest = names.slice(names.indexOf(name)).reduce((sum, n) => sum + this.costs.get(n)!, 0);
    return Date.now() + (Math.max(0, this.end - Date.now()) * this.costs.get(name)!) / Math.max(rest, 1e-9);
  }
}

class Findings {
  count = 0;
  constructor(readonly path: string) {}

  add(entry: Record<string, unknown>): void {
    this.count += 1;
    appendFileSync(this.path, `${JSON.stringify(entry)}\n`);
  }
}

function describeRequest(generated: Generated): Record<string, unknown> {
  const { spec } = generated;
  return {
    method: spec.method,
    url: spec.url.length > 2000 ? `${spec.url.slice(0, 2000)}… (${spec.url.length} characters)` : spec.url,
    headers: spec.headers,
    body: spec.body === undefined ? undefined : spec.body.length > 4096 ? `${spec.body.subarray(0, 4096).toString('base64')}… (${spec.body.length} bytes, base64 of the first 4096)` : spec.body.toString('base64'),
    text: spec.body === undefined ? undefined : spec.body.subarray(0, 300).toString('utf8'),
    raw: spec.raw?.subarray(0, 4096).toString('base64'),
    strategy: generated.strategy,
  };
}

async function main(): Promise<number> {
  const opts = options();
  const started = Date.now();
  const end = started + opts.minutes * 60_000;
  const targets = opts.quick ? { perSurface: 50, cli: 2, outages: 2, kills: 3 } : { perSurface: 10_000, cli: 100, outages: 100, kills: 200 };
  // Every surface gets at least this many inputs, however short the run: a smoke run still touches each one.
  const floor = Math.min(20, targets.perSurface);
  const planner = new Planner(end);
  const rng = new Rng(opts.seed);
  const work = mkdtempSync(join(tmpdir(), 'oag-soak-'));
  const findings = new Findings(join(work, 'findings.jsonl'));
  console.log(`soak: ${opts.minutes} min${opts.quick ? ' (quick)' : ''}, seed ${opts.seed}, work folder ${work}`);

  const rows: SurfaceRow[] = [];
  let faults: FaultCounts | undefined;
  let contractCheck: OutboxCheck | undefined;
  let broker: RunningMosquitto | undefined;
  let central: RunningCentral | undefined;
  let fuzzGateway: GatewayProcess | undefined;
  let importStore: Store | undefined;
  let current: SurfaceRow | undefined;
  const children = (): number[] => [...GatewayProcess.live(), ...(broker !== undefined && broker.pid() > 0 ? [broker.pid()] : [])];
  // An exception nobody caught while a surface in this process was being fed is that surface's crash.
  const onUncaught = (error: unknown): void => {
    if (current !== undefined) current.crashes += 1;
    findings.add({ surface: current?.surface ?? '(soak)', kind: 'uncaught exception in the soak process', error: (error as Error)?.stack ?? String(error) });
  };
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  // Ctrl-C: the gateways and the broker are this run's children; they go with it, by pid.
  const onSignal = (signal: NodeJS.Signals): void => {
    console.log(`\n${signal}: stopping; the work folder stays: ${work}`);
    for (const pid of children()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    if (broker !== undefined) rmSync(broker.dir, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    broker = await startMosquitto({ users: PASSWORDS, centralUser: 'central' });
    const tls = { ca: broker.certs.ca, cert: broker.certs.clientCert, key: broker.certs.clientKey };
    const mqttFor = (site: string): Record<string, unknown> => ({
      url: broker!.url,
      username: site,
      password: PASSWORDS[site as keyof typeof PASSWORDS],
      tls,
      reconnectPeriodMs: 200,
      reconnectMaxMs: 1000,
    });

    // ---- the fuzzed gateway -------------------------------------------------------------------------------------
    const fuzzDir = join(work, FUZZ_SITE);
    mkdirSync(fuzzDir, { recursive: true });
    const fuzzStore = join(fuzzDir, 'gateway.sqlite');
    seedMembers(fuzzStore, 20);
    await addConsoleUser({ path: fuzzStore }, MANAGER, 'manager', MANAGER_PASSWORD);
    const fuzzPort = await freePort();
    const fuzzConfig = writeGatewayFiles({ site: FUZZ_SITE, dir: fuzzDir, storePath: fuzzStore, port: fuzzPort, mqtt: mqttFor(FUZZ_SITE), logLevel: 'warn' });
    const fuzzLog = join(fuzzDir, 'gateway.log');
    const startFuzzGateway = async (): Promise<GatewayProcess> => GatewayProcess.start({ config: fuzzConfig, port: fuzzPort, logPath: fuzzLog });
    fuzzGateway = await startFuzzGateway();
    await waitForUplink(fuzzGateway);
    const watch = new GatewayWatch(fuzzGateway.url, fuzzStore);
    const newSession = (): SessionCredentials => {
      const db = openConsoleDb({ path: fuzzStore });
      try {
        const { token, session } = new ConsoleSessions(db, { now: () => new Date() }).create(MANAGER);
        return { cookie: `oag_session=${token}`, csrf: session.csrfToken };
      } finally {
        db.close();
      }
    };
    let session = newSession();

    /** After a crash: note it, keep its log tail, start the gateway again. */
    const recover = async (row: SurfaceRow, context: Record<string, unknown>): Promise<void> => {
      row.crashes += 1;
      const exit = await fuzzGateway!.exited;
      findings.add({ surface: row.surface, kind: 'crash', exit, ...context, logTail: fuzzGateway!.logTail(60) });
      fuzzGateway = await startFuzzGateway();
      await waitForUplink(fuzzGateway);
      watch.reset();
    };
    /** Compares with the last fingerprint; a difference is a state change, kept with the inputs sent since. */
    let baseline: Fingerprint | undefined;
    const checkState = async (row: SurfaceRow, window: unknown[]): Promise<void> => {
      if (!fuzzGateway!.running) return;
      const now = await watch.take();
      if (baseline !== undefined) {
        const diff = difference(baseline, now);
        if (diff.length > 0) {
          row.stateChanges += 1;
          const file = join(work, `state-change-${findings.count + 1}.json`);
          writeFileSync(file, JSON.stringify(window, null, 1));
          const letThrough = window.filter((w) => typeof (w as { status?: unknown }).status === 'number' && ((w as { status: number }).status < 300 && (w as { status: number }).status >= 200));
          findings.add({ surface: row.surface, kind: 'state change', diff, inputs: file, answered2xx: letThrough.slice(0, 5) });
        }
      }
      refusals += now.refusals;
      baseline = now;
    };
    let refusals = 0;

    // ---- HTTP ---------------------------------------------------------------------------------------------------
    const ops = await operations(fuzzGateway.url);
    const httpSurfaces: Array<{ op: Operation; withSession: boolean }> = [];
    for (const op of ops) {
      httpSurfaces.push({ op, withSession: false });
      if (isConsole(op)) httpSurfaces.push({ op, withSession: true });
    }
    // Parts left out with --parts cost nothing, so the others share the whole time.
    const on = (part: Part): number => (opts.parts.has(part) ? 1 : 0);
    planner.cost('http', on('http') * httpSurfaces.length * (0.15 + targets.perSurface / 800));
    planner.cost('mqtt', on('mqtt') * 4 * (0.5 + targets.perSurface / 300));
    planner.cost('config', on('files') * (0.2 + targets.perSurface / 90));
    planner.cost('policy', on('files') * (0.2 + targets.perSurface / 140));
    planner.cost('cli', on('files') * targets.cli * 1.0);
    planner.cost('csv', on('files') * (0.2 + targets.perSurface / 80));
    planner.cost('outages', on('faults') * targets.outages * 2.5);
    planner.cost('kills', on('faults') * targets.kills * 2.8);
    planner.cost('drain', on('faults') * 10);
    const httpEnd = planner.deadline('http');
    console.log(`parts: ${[...opts.parts].join(', ')}; fuzz: ${httpSurfaces.length} HTTP surfaces (${ops.length} operations), 4 MQTT topics, 4 file surfaces`);
    watch.reset();
    baseline = await watch.take();
    const httpRun = opts.parts.has('http') ? httpSurfaces : [];
    for (const [index, { op, withSession }] of httpRun.entries()) {
      const row: SurfaceRow = { surface: `http ${op.method} ${op.path}${withSession ? ' +session' : ''}`, startedAt: Date.now(), target: targets.perSurface, inputs: 0, skippedValid: 0, crashes: 0, serverErrors: 0, stateChanges: 0, note: '' };
      rows.push(row);
      current = row;
      refusals = 0;
      const deadline = shareOf(httpEnd, httpRun.length - index);
      const maker = new RequestMaker(rng, op, FUZZ_SITE, `127.0.0.1:${fuzzPort}`, withSession ? session : undefined);
      let transport = 0;
      let clientRefused = 0;
      let oversized = 0;
      let window: unknown[] = [];
      let noAnswer: Array<{ error: string | undefined; request: Record<string, unknown> }> = [];
      const statuses = new Map<number, number>();
      const more = (): boolean => row.inputs < row.target && (Date.now() < deadline || row.inputs < floor);
      while (more()) {
        // Sixteen requests at a time; the state is compared after every 500.
        const batchEnd = Math.min(row.inputs + 500, row.target);
        await Promise.all(
          Array.from({ length: 16 }, async () => {
            while (row.inputs < batchEnd && more() && fuzzGateway!.running) {
              const generated = maker.next();
              row.inputs += 1;
              const entry = describeRequest(generated);
              window.push(entry);
              const answer = await send(fuzzPort, generated.spec);
              // Kept with the input, so that a state change can be traced to the requests that were let through.
              entry.status = answer.status;
              statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
              if (answer.status === -1) {
                // Node's client would not send it: not an input the gateway saw, so not one towards the target.
                clientRefused += 1;
                row.inputs -= 1;
              } else if (answer.status === 0 && generated.spec.raw !== undefined) transport += 1;
              else if (answer.status === 0 && oversize(generated.spec)) oversized += 1;
              else if (answer.status === 0) noAnswer.push({ error: answer.error, request: entry });
              else if (answer.status >= 500 && answer.busy !== true) {
                row.serverErrors += 1;
                if (row.serverErrors <= 20) findings.add({ surface: row.surface, kind: '5xx', status: answer.status, request: entry });
              }
            }
          }),
        );
        if (!fuzzGateway.running) {
          await recover(row, { lastInputs: window.slice(-20) });
          baseline = await watch.take();
        } else {
          // A well-formed request that got no answer at all (the connection dropped, or nothing within 30 s) while
          // the gateway ran on counts with the 5xx: it is the same failure, told worse.
          for (const { error, request } of noAnswer) {
            row.serverErrors += 1;
            if (row.serverErrors <= 20) findings.add({ surface: row.surface, kind: 'no answer', error, request });
          }
          await checkState(row, window);
        }
        noAnswer = [];
        window = [];
      }
      row.skippedValid = maker.skippedValid;
      const notable = [...statuses].filter(([s]) => s !== 400 && s !== 401 && s !== 403).sort((a, b) => b[1] - a[1]).slice(0, 4);
      row.note = [`${refusals} refusals recorded`, transport > 0 ? `${transport} raw requests unanswered` : '', oversized > 0 ? `${oversized} over Node's 16 KiB head limit cut off` : '', clientRefused > 0 ? `${clientRefused} refused by the client` : '', notable.map(([s, n]) => `${s}×${n}`).join(' ')].filter(Boolean).join('; ');
      // Sign-out that got through, or a session changed by some input: the next surfaces need a valid one.
      if (withSession && (await send(fuzzPort, { method: 'GET', url: '/api/console/session', headers: { cookie: session.cookie } })).status !== 200) {
        findings.add({ surface: row.surface, kind: 'session ended by a fuzzed request' });
        session = newSession();
      }
      progress(row);
    }

    // ---- MQTT ---------------------------------------------------------------------------------------------------
    const mqttEnd = planner.deadline('mqtt');
    const list = (() => {
      const store = openStore(fuzzStore, { readonly: true });
      try {
        const stats = store.members.stats();
        return { version: stats.version ?? 1, count: stats.count, hash: stats.hash };
      } finally {
        store.close();
      }
    })();
    const fuzzer = new MqttFuzzer({ url: broker.url, username: 'central', password: PASSWORDS.central, tls, site: FUZZ_SITE, keyId: deploymentKeyId(Buffer.from(TEST_KEY_HEX, 'hex')), list });
    if (opts.parts.has('mqtt')) await fuzzer.connect();
    const allTopics = topicSurfaces({ url: broker.url, username: 'central', password: PASSWORDS.central, tls, site: FUZZ_SITE, keyId: deploymentKeyId(Buffer.from(TEST_KEY_HEX, 'hex')), list });
    const surfaces = opts.parts.has('mqtt') ? allTopics : [];
    for (const [index, surface] of surfaces.entries()) {
      const row: SurfaceRow = { surface: `mqtt ${surface.topic}`, startedAt: Date.now(), target: targets.perSurface, inputs: 0, skippedValid: 0, crashes: 0, serverErrors: 0, stateChanges: 0, note: '' };
      rows.push(row);
      current = row;
      refusals = 0;
      const deadline = shareOf(mqttEnd, surfaces.length - index);
      let window: unknown[] = [];
      let unanswered = 0;
      while (row.inputs < row.target && (Date.now() < deadline || row.inputs < floor)) {
        const batch: Array<Promise<void>> = [];
        for (let i = 0; i < 250 && row.inputs < row.target; i += 1) {
          const made = malformedMessage(rng, surface);
          if (made === undefined) {
            row.skippedValid += 1;
            continue;
          }
          row.inputs += 1;
          window.push({ topic: surface.topic, strategy: made.strategy, payload: made.bytes.subarray(0, 4096).toString('base64'), bytes: made.bytes.length });
          batch.push(fuzzer.publish(surface.topic, made.bytes).catch(() => undefined));
          if (batch.length >= 32) await Promise.all(batch.splice(0));
        }
        await Promise.all(batch);
        const handled = await fuzzer.barrier(FUZZ_SITE, 120_000);
        if (!fuzzGateway.running) {
          await recover(row, { lastInputs: window.slice(-20) });
          baseline = await watch.take();
        } else {
          if (!handled) unanswered += 1;
          await checkState(row, window);
        }
        window = [];
      }
      row.note = [`${refusals} refusals recorded`, unanswered > 0 ? `${unanswered} barriers unanswered` : ''].filter(Boolean).join('; ');
      progress(row);
    }
    await fuzzer.close();
    await fuzzGateway.stop();
    // What the refusals left in the outbox must still be events central takes: one the contract refuses is sent,
    // refused at central, and the only record of what was refused is lost there.
    if (opts.parts.has('http') || opts.parts.has('mqtt')) {
      contractCheck = checkOutbox(fuzzStore);
      for (const example of contractCheck.examples) findings.add({ surface: 'outbox of the fuzzed gateway', kind: 'event the contract refuses', ...example });
    }

    // ---- files --------------------------------------------------------------------------------------------------
    const filesDir = join(work, 'files');
    mkdirSync(filesDir, { recursive: true });
    writeFileSync(join(filesDir, 'policy.yaml'), policyTemplate(FUZZ_SITE));
    const fileSurfaces = opts.parts.has('files') ? (['config', 'policy', 'cli', 'csv'] as const) : [];
    for (const kind of fileSurfaces) {
      const deadline = planner.deadline(kind);
      const row: SurfaceRow = {
        startedAt: Date.now(),
        surface: { config: 'gateway config (check-config, in process)', policy: 'policy file (check-config, in process)', cli: 'config + policy (oag check-config CLI, sample)', csv: 'member CSV (branch import, in process)' }[kind],
        target: kind === 'cli' ? targets.cli : targets.perSurface,
        inputs: 0,
        skippedValid: 0,
        crashes: 0,
        serverErrors: 0,
        stateChanges: 0,
        note: '',
      };
      rows.push(row);
      current = row;
      let accepted = 0;
      if (kind === 'config' || kind === 'policy' || kind === 'cli') {
        const templates = { config: configTemplate(FUZZ_SITE, filesDir), policy: policyTemplate(FUZZ_SITE) };
        // The CLI two at a time (a spawn is mostly waiting for Node to load); in process one after another.
        await Promise.all(
          Array.from({ length: kind === 'cli' ? 2 : 1 }, async (_, lane) => {
            while (row.inputs < row.target && (Date.now() < deadline || row.inputs < Math.min(floor, row.target))) {
              const which = kind === 'cli' ? rng.pick(['config', 'policy'] as const) : kind;
              const made = malformedDocument(rng, templates[which], parseYaml(templates[which]));
              const file = writeInput(filesDir, `${which}-input-${lane}.yaml`, made.bytes);
              row.inputs += 1;
              const outcome = kind === 'cli' ? await checkWithCli(root, file) : await checkInProcess(file);
              if (outcome.accepted) accepted += 1;
              if (outcome.crashed) {
                row.crashes += 1;
                const kept = writeInput(work, `crash-${findings.count + 1}.yaml`, made.bytes);
                findings.add({ surface: row.surface, kind: 'crash', strategy: made.strategy, input: kept, detail: outcome.detail });
              }
            }
          }),
        );
        row.note = `${accepted} accepted as valid`;
      } else {
        // The import's store on a tmpfs when there is one: its fsyncs would otherwise be most of the time.
        const shm = existsSync('/dev/shm') ? mkdtempSync('/dev/shm/oag-soak-') : mkdtempSync(join(work, 'import-'));
        importStore = openStore(join(shm, 'import.sqlite'));
        const base = csvTemplate();
        const baseFile = writeInput(filesDir, 'base.csv', Buffer.from(base));
        const key = Buffer.from(TEST_KEY_HEX, 'hex');
        const storeForImport = importStore;
        await importOnce(storeForImport, baseFile, key);
        const baseHash = storeForImport.members.stats().hash;
        const baseCount = storeForImport.members.stats().count;
        let changed = 0;
        while (row.inputs < row.target && (Date.now() < deadline || row.inputs < floor)) {
          const made = mutateText(rng, base, 'csv');
          const file = writeInput(filesDir, 'members-input.csv', made.bytes);
          const outcome = await importOnce(storeForImport, file, key);
          row.inputs += 1;
          if (outcome.accepted) {
            accepted += 1;
            const stats = storeForImport.members.stats();
            if (stats.hash !== baseHash) changed += 1;
            // Back to the base list when this one has drifted far from it, so that inputs meet much the same list.
            if (Math.abs(stats.count - baseCount) > baseCount * 0.2) await importOnce(storeForImport, baseFile, key);
          }
          if (outcome.crashed || outcome.changed) {
            if (outcome.crashed) row.crashes += 1;
            if (outcome.changed) row.stateChanges += 1;
            const kept = writeInput(work, `import-${findings.count + 1}.csv`, made.bytes);
            findings.add({ surface: row.surface, kind: outcome.crashed ? 'crash' : 'state change', strategy: made.strategy, input: kept, detail: outcome.detail });
          }
        }
        row.note = `${accepted} accepted (${changed} of them changed the list)`;
        importStore.close();
        importStore = undefined;
        rmSync(shm, { recursive: true, force: true });
      }
      progress(row);
    }
    current = undefined;

    // ---- faults -------------------------------------------------------------------------------------------------
    if (opts.parts.has('faults')) {
      const centralStore = join(work, 'central.sqlite');
      central = await startCentral(
        parseCentralConfig({ broker: { url: broker.url, username: 'central', password: PASSWORDS.central, tls }, http: { port: 0 }, store: { path: centralStore }, signing: { keyFile: testSigningKey().privateFile }, log: { level: 'silent' } }),
        { clock: { now: () => new Date() }, logger: pino({ level: 'silent' }) },
      );
      const faultDir = join(work, FAULT_SITE);
      mkdirSync(faultDir, { recursive: true });
      const faultStore = join(faultDir, 'gateway.sqlite');
      const members = 50_000;
      seedMembers(faultStore, members);
      const faultPort = await freePort();
      const faultConfig = writeGatewayFiles({ site: FAULT_SITE, dir: faultDir, storePath: faultStore, port: faultPort, mqtt: mqttFor(FAULT_SITE) });
      console.log(`faults: ${targets.outages} broker outages, then ${targets.kills} kill -9, taps throughout`);
      faults = await runFaults(
        { broker, centralUrl: central.httpUrl, centralAuth: { authorization: `Bearer ${(await central.auth.tokens.create({ name: 'soak', role: 'viewer', expiresDays: 1 }, 'soak')).token}` }, centralStore, site: FAULT_SITE, storePath: faultStore, config: faultConfig, port: faultPort, logPath: join(faultDir, 'gateway.log'), members },
        targets,
        (part) => (part === 'drain' ? end : planner.deadline(part)),
        (line) => console.log(line),
        () => rng.next(),
      );
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
    if (fuzzGateway?.running) await fuzzGateway.stop('SIGKILL');
    importStore?.close();
    await central?.close();
    await broker?.stop();
  }

  const ok = report(rows, faults, contractCheck, targets, opts, Date.now() - started, findings);
  if (findings.count > 0 || opts.keep) console.log(`findings and the inputs behind them: ${work}`);
  else rmSync(work, { recursive: true, force: true });
  return ok ? 0 : 1;
}

/**
 * A request head over Node's limit (16 KiB): the server answers 431 and closes while the client is still
 * writing, so the client often sees only the reset. That is the HTTP parser refusing it, not the gateway failing.
 */
function oversize(spec: { url: string; headers: Record<string, string> }): boolean {
  return spec.url.length + Object.entries(spec.headers).reduce((n, [k, v]) => n + k.length + v.length + 4, 0) > 16 * 1024;
}

async function waitForUplink(gateway: GatewayProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if ((await gateway.state()).uplink?.connected === true) return;
    await sleep(100);
  }
  throw new Error('the fuzzed gateway did not connect to the broker');
}

function progress(row: SurfaceRow): void {
  const flag = row.crashes + row.serverErrors + row.stateChanges > 0 ? '  <<' : '';
  console.log(`  ${row.surface}: ${row.inputs} inputs in ${((Date.now() - row.startedAt) / 1000).toFixed(1)} s, ${row.crashes} crashes, ${row.serverErrors} 5xx, ${row.stateChanges} state changes${flag}`);
}

function pad(text: string | number, width: number, right = false): string {
  const s = String(text);
  return right ? s.padStart(width) : s.padEnd(width);
}

interface OutboxCheck {
  events: number;
  refused: number;
  /** By event type and the first error. */
  byKind: Record<string, number>;
  examples: Array<{ id: string; type: string; errors: string[]; data: string }>;
}

/** Every event in a gateway's store against the contract's event schema, as the uplink would send it. */
function checkOutbox(storePath: string): OutboxCheck {
  const db = new Database(storePath, { readonly: true, fileMustExist: true });
  const result: OutboxCheck = { events: 0, refused: 0, byKind: {}, examples: [] };
  try {
    for (const row of db.prepare('SELECT id, at, type, data FROM events').iterate() as Iterable<{ id: string; at: string; type: string; data: string }>) {
      result.events += 1;
      const check = EventSchema.safeParse({ id: row.id, at: row.at, ...(JSON.parse(row.data) as Record<string, unknown>) });
      if (check.success) continue;
      result.refused += 1;
      const errors = check.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
      const kind = `${row.type} ${errors[0]!.slice(0, 60)}`;
      result.byKind[kind] = (result.byKind[kind] ?? 0) + 1;
      if (result.byKind[kind] === 1 && result.examples.length < 20) result.examples.push({ id: row.id, type: row.type, errors, data: row.data.slice(0, 1000) });
    }
  } finally {
    db.close();
  }
  return result;
}

function report(
  rows: SurfaceRow[],
  faults: FaultCounts | undefined,
  contract: OutboxCheck | undefined,
  targets: { outages: number; kills: number },
  opts: Options,
  elapsedMs: number,
  findings: Findings,
): boolean {
  let ok = true;
  const width = Math.max(...rows.map((r) => r.surface.length), 40);
  console.log(`\nsoak summary (${(elapsedMs / 60_000).toFixed(1)} min, seed ${opts.seed}${opts.quick ? ', quick' : ''})`);
  console.log(`${pad('surface', width)}  ${pad('inputs/target', 15, true)}  ${pad('valid skipped', 13, true)}  ${pad('crashes', 7, true)}  ${pad('5xx', 5, true)}  ${pad('state chg', 9, true)}  note`);
  console.log(`${pad('goal', width)}  ${pad('target', 15, true)}  ${pad('', 13, true)}  ${pad(0, 7, true)}  ${pad(0, 5, true)}  ${pad(0, 9, true)}`);
  for (const r of rows) {
    const short = r.inputs < r.target;
    if (short || r.crashes + r.serverErrors + r.stateChanges > 0) ok = false;
    console.log(
      `${pad(r.surface, width)}  ${pad(`${r.inputs}/${r.target}${short ? '!' : ''}`, 15, true)}  ${pad(r.skippedValid, 13, true)}  ${pad(r.crashes, 7, true)}  ${pad(r.serverErrors, 5, true)}  ${pad(r.stateChanges, 9, true)}  ${r.note}`,
    );
  }
  const sum = (f: (r: SurfaceRow) => number): number => rows.reduce((a, r) => a + f(r), 0);
  console.log(`${pad('all surfaces', width)}  ${pad(sum((r) => r.inputs), 15, true)}  ${pad(sum((r) => r.skippedValid), 13, true)}  ${pad(sum((r) => r.crashes), 7, true)}  ${pad(sum((r) => r.serverErrors), 5, true)}  ${pad(sum((r) => r.stateChanges), 9, true)}`);
  if (contract !== undefined) {
    if (contract.refused > 0) ok = false;
    console.log(`\nevents the fuzzed gateway recorded that the contract refuses: ${contract.refused} of ${contract.events} (goal 0)`);
    for (const [kind, n] of Object.entries(contract.byKind)) console.log(`  ${n} × ${kind}`);
  }
  if (faults !== undefined) {
    const lines: Array<[string, number | string, number | string]> = [
      ['broker outages (mosquitto stopped and started)', faults.outages, targets.outages],
      ['gateway kill -9', faults.kills, targets.kills],
      ['taps made (answered)', `${faults.taps} (${faults.answered})`, ''],
      ['events generated (ids in the gateway store)', faults.generated, ''],
      ['events stored at central', faults.atCentral, faults.generated],
      ['lost: in the store, never at central', faults.lost, 0],
      ['at central, not in the store', faults.phantom, 0],
      ['answered taps without their event', faults.unanswered, 0],
      ['taps recorded twice', faults.twice, 0],
      ['gateway exits nobody asked for', faults.crashes, 0],
      ['logged, not stored (cut by kill -9, never answered)', faults.loggedNotStored, ''],
      ['duplicate deliveries dropped by central', faults.wireDuplicates, ''],
    ];
    console.log(`\n${pad('faults', 52)}  ${pad('count', 14, true)}  ${pad('goal', 8, true)}`);
    for (const [label, value, goal] of lines) {
      if (goal !== '' && String(value) !== String(goal)) ok = false;
      console.log(`${pad(label, 52)}  ${pad(value, 14, true)}  ${pad(goal, 8, true)}`);
    }
    for (const note of faults.notes) console.log(`  note: ${note}`);
  } else if (opts.parts.has('faults')) ok = false;
  console.log(
    '\ncrash = the gateway process exited (restarted, and the run goes on), or the function under test threw instead of\n' +
      'answering (check-config: exit status 0/1; import: a summary or ImportError; CLI: a signal, another status, a stack);\n' +
      '5xx = an answer of 500 or more (but 503 with Retry-After, the designed "sign-in is busy"), or no answer at all to a request the client could send (connection dropped, 30 s);\n' +
      'valid skipped = inputs the route\'s own schema accepts, so not malformed, and not sent (a few are: see http-fuzz.ts).'
  );
  console.log(
    'state change = after a batch of inputs, /api/state (without its timestamps and the policy-refused alarm), /api/health\n' +
      '(each part and whether healthy), the member list (version, count, hash), or any event recorded that is not the record\n' +
      'of a refusal (access refused, unreadable card, policy or member list refused, sign-in refused, policy-refused raised)\n' +
      'differs from before the batch; for member CSVs: a refused file that changed the list in force.',
  );
  console.log(ok ? '\nall goals met' : `\ngoals NOT met${findings.count > 0 ? ` (${findings.count} findings)` : ''}`);
  return ok;
}

// A run that went wrong still ends: the broker and gateways are stopped by pid in `main`'s finally.
main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(2);
  },
);

