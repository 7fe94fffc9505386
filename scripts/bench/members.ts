// Member-list distribution benchmark (docs/members.md):
//   npx tsx scripts/bench/members.ts [members] [changes]      (or: oag bench, which runs it with 1,000,000 and 1,000)
// Central runs in this process with its embedded broker; the branch is a real gateway in a child process, so each
// memory figure is that side's own. Prints: the import at central (seconds, memory), the snapshot on the wire
// (bytes, chunks), the branch's transfer and apply (seconds, write lock held, longest event-loop stall, memory), and
// a re-import with `changes` members changed, end to end until the branch has applied the delta, and beside it a
// delta file (central/members/lms-delta.ts) of as many changed rows, 1 in 100 of them deletions, the same way.
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { parse, stringify } from 'yaml';
import { parseCentralConfig, startCentral } from '../../central/main.js';
import { generatePassword, writePasswordFile } from '../../central/mqtt-passwords.js';
import { makeSigningKeyFiles } from '../../central/signing-key.js';
import { parseGatewayConfig } from '../../gateway/config.js';
import { startGateway } from '../../gateway/main.js';
import { generateMembersCsv } from './import.js';

export interface MembersBenchResult {
  members: number;
  /** Rows in the export; `members` is what central kept for the branches (`branchList`). */
  rows: number;
  branchList: 'registered' | 'everyone';
  central: { importSeconds: number; rowsPerSecond: number; rssMb: number; maxRssMb: number };
  wire: { snapshotBytes: number; bytesPerMember: number; chunks: number };
  branch: { snapshotSeconds: number; applyLockMs: number; longestStallMs: number; rssMb: number; maxRssMb: number };
  delta: { changes: number; importSeconds: number; propagationSeconds: number; endToEndSeconds: number; applyLockMs: number };
  /** The same size of change as a delta file: its rows alone are read. */
  deltaFile: { rows: number; changes: number; importSeconds: number; propagationSeconds: number; endToEndSeconds: number; applyLockMs: number };
}

/** Messages from the branch process. */
type BranchMessage =
  | { type: 'ready' }
  | { type: 'applied'; version: number; at: number; kind: string; lockMs: number; seconds: number; longestStallMs: number; rssMb: number; maxRssMb: number };

const round = (x: number, digits = 2): number => Number(x.toFixed(digits));
const mb = (bytes: number): number => round(bytes / 2 ** 20, 0);

/** An export row with the member's blocked flag turned over (and the block's reason cleared when unblocked). */
function flipBlocked(line: string): string {
  const f = line.split(',');
  f[3] = f[3] === 'Y' ? 'N' : 'Y';
  if (f[3] === 'N') f[4] = '';
  return f.join(',');
}

/** `from` written to `to` line by line through `rewrite` (the header is line -1; null leaves the line out). */
async function rewriteLines(from: string, to: string, rewrite: (line: string, i: number) => string | null): Promise<void> {
  const out = createWriteStream(to);
  const lines = createInterface({ input: createReadStream(from), crlfDelay: Infinity });
  let i = -1;
  let chunk = '';
  for await (const line of lines) {
    const text = rewrite(line, i++);
    if (text !== null) chunk += `${text}\n`;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
}

/** A copy of the export with `changes` members' blocked flag turned over, spread through the file. */
async function withChanges(from: string, to: string, rows: number, changes: number): Promise<void> {
  const every = Math.max(1, Math.floor(rows / changes));
  let changed = 0;
  await rewriteLines(from, to, (line, i) => {
    if (i < 0 || i % every !== 0 || changed >= changes) return line;
    changed++;
    return flipBlocked(line);
  });
}

/**
 * A delta file of `changes` rows of the export (others than withChanges turns over): each member's blocked flag
 * turned over, 1 in 100 of them deleted instead, in the export's columns and a `deleted` column.
 */
async function deltaFile(from: string, to: string, rows: number, changes: number): Promise<void> {
  const every = Math.max(1, Math.floor(rows / changes));
  let written = 0;
  await rewriteLines(from, to, (line, i) => {
    if (i < 0) return `${line},deleted`;
    if ((i + Math.floor(every / 2)) % every !== 0 || written >= changes) return null;
    return `${flipBlocked(line)},${written++ % 100 === 0 ? 'Y' : 'N'}`;
  });
}

/**
 * `registeredShare` unset: every member on the branch list (`branchList: everyone`), as before the stolen-branch
 * design. Set (0.1 is typical): that share of the export registered for open access, and only they and staff sent.
 */
export async function benchMembers(opts: { members: number; changes: number; registeredShare?: number | undefined }): Promise<MembersBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'oag-bench-members-'));
  const keyHex = randomBytes(32).toString('hex');
  const csv = join(dir, 'export.csv');
  let central: Awaited<ReturnType<typeof startCentral>> | undefined;
  let child: ReturnType<typeof fork> | undefined;
  try {
    const branchList = opts.registeredShare === undefined ? 'everyone' : 'registered';
    await generateMembersCsv(csv, opts.members, 1, { keepCards: 0, ...(opts.registeredShare === undefined ? {} : { unregisteredShare: 1 - opts.registeredShare }) });
    // Central signs the list with a key made for this run; the branch reads its public key from the same folder.
    const signing = makeSigningKeyFiles(dir);
    // The branch logs in to the broker as itself, with the password it reads from the same folder.
    const branchPassword = generatePassword();
    writeFileSync(join(dir, 'branch.mqtt-password'), `${branchPassword}\n`, { mode: 0o600 });
    await writePasswordFile(join(dir, 'mqtt-passwords'), { 'bench-branch': branchPassword });
    central = await startCentral(
      parseCentralConfig({ embedded: { port: 0, passwordFile: join(dir, 'mqtt-passwords') }, http: { port: 0 }, store: { path: join(dir, 'central.sqlite') }, signing: { keyFile: signing.keyFile }, members: { branchList }, log: { level: 'silent' } }),
      { clock: { now: () => new Date() }, logger: pino({ level: 'silent' }), env: { OAG_DEPLOYMENT_KEY: keyHex } },
    );
    const members = central.members!;
    const started = performance.now();
    const imported = await members.importFile(csv);
    const importSeconds = (performance.now() - started) / 1000;
    const centralRss = process.memoryUsage().rss;
    const centralMaxRss = process.resourceUsage().maxRSS * 1024;

    const script = fileURLToPath(import.meta.url);
    // Compiled (dist/, as on a Pi) the child is plain JavaScript; from the sources it runs under tsx.
    const compiled = import.meta.url.endsWith('.js');
    const c = fork(script, ['--branch', central.brokerUrl, String(central.mqttProtocolVersion), keyHex, dir], {
      execArgv: compiled ? [] : ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child = c;
    const messages: BranchMessage[] = [];
    const waiters: Array<() => void> = [];
    c.on('message', (m) => {
      messages.push(m as BranchMessage);
      for (const w of waiters.splice(0)) w();
    });
    const exited = new Promise<never>((_, reject) => c.once('exit', (code) => reject(new Error(`the branch process exited with ${code}`))));
    const next = async (predicate: (m: BranchMessage) => boolean): Promise<BranchMessage> => {
      for (;;) {
        const found = messages.find(predicate);
        if (found) return found;
        await Promise.race([new Promise<void>((r) => waiters.push(r)), exited]);
      }
    };
    const bytesBefore = members.publisher.stats.bytesSent;
    const chunksBefore = members.publisher.stats.chunksSent;
    const snapshot = (await next((m) => m.type === 'applied' && m.version === imported.version)) as Extract<BranchMessage, { type: 'applied' }>;
    const snapshotBytes = members.publisher.stats.bytesSent - bytesBefore;
    const chunks = members.publisher.stats.chunksSent - chunksBefore;

    const changedCsv = join(dir, 'export-changed.csv');
    await withChanges(csv, changedCsv, opts.members, opts.changes);
    // An import at central timed, then until the branch has applied the version it made.
    const timed = async <R extends { version: number }>(run: () => Promise<R>) => {
      const t0 = performance.now();
      const startedAt = Date.now();
      const result = await run();
      const seconds = (performance.now() - t0) / 1000;
      const importedAt = Date.now();
      const applied = (await next((m) => m.type === 'applied' && m.version === result.version)) as Extract<BranchMessage, { type: 'applied' }>;
      return { result, seconds, startedAt, importedAt, applied };
    };
    const second = await timed(() => members.importFile(changedCsv));

    const deltaCsv = join(dir, 'changes.delta.csv');
    await deltaFile(changedCsv, deltaCsv, opts.members, opts.changes);
    const third = await timed(() => members.importDeltaFile(deltaCsv));

    return {
      members: imported.count,
      rows: opts.members,
      branchList,
      central: { importSeconds: round(importSeconds), rowsPerSecond: Math.round(opts.members / importSeconds), rssMb: mb(centralRss), maxRssMb: mb(centralMaxRss) },
      wire: { snapshotBytes, bytesPerMember: round(snapshotBytes / imported.count, 1), chunks },
      branch: { snapshotSeconds: snapshot.seconds, applyLockMs: snapshot.lockMs, longestStallMs: snapshot.longestStallMs, rssMb: snapshot.rssMb, maxRssMb: snapshot.maxRssMb },
      delta: {
        changes: second.result.changed + second.result.added + second.result.removed,
        importSeconds: round(second.seconds),
        propagationSeconds: round((second.applied.at - second.importedAt) / 1000),
        endToEndSeconds: round((second.applied.at - second.startedAt) / 1000),
        applyLockMs: second.applied.lockMs,
      },
      deltaFile: {
        rows: third.result.total,
        changes: third.result.changed + third.result.added + third.result.removed,
        importSeconds: round(third.seconds, 3),
        propagationSeconds: round((third.applied.at - third.importedAt) / 1000),
        endToEndSeconds: round((third.applied.at - third.startedAt) / 1000),
        applyLockMs: third.applied.lockMs,
      },
    };
  } finally {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit').catch(() => undefined);
    }
    await central?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The branch: a real gateway on simulated drivers, syncing from central; reports each version it applies. */
async function runBranch(brokerUrl: string, protocolVersion: 4 | 5, keyHex: string, dir: string): Promise<void> {
  const send = (m: BranchMessage): void => void process.send?.(m);
  const policy = parse(readFileSync(new URL('../../policies/examples/town.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'branch.policy.yaml'), stringify({ ...policy, site: 'bench-branch' }));
  const config = parseGatewayConfig({
    site: 'bench-branch',
    policyFile: join(dir, 'branch.policy.yaml'),
    store: { path: join(dir, 'branch.sqlite') },
    clock: { trust: 'trusted' },
    http: { enabled: false },
    log: { level: 'silent' },
    hardware: { gpio: { driver: 'simulated' }, readers: [{ id: 'entry', driver: 'simulated', role: 'entry' }] },
    mqtt: {
      url: brokerUrl,
      protocolVersion,
      reconnectPeriodMs: 200,
      username: 'bench-branch',
      passwordFile: join(dir, 'branch.mqtt-password'),
      centralKeys: [join(dir, 'central-signing.pub')],
    },
  });
  // How late a timer fires is how long a tap would have waited: the longest stall of the event loop.
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  let since = performance.now();
  const running = await startGateway(config, { logger: pino({ level: 'silent' }), env: { OAG_DEPLOYMENT_KEY: keyHex } });
  // The gateway's own start is not part of the sync.
  delay.reset();
  let reported = running.store.members.stats().version;
  const timer = setInterval(() => {
    const version = running.store.members.stats().version;
    if (version === null || version === reported) return;
    reported = version;
    const at = Date.now();
    const seconds = round((performance.now() - since) / 1000);
    const last = running.memberSync!.status().lastApply;
    // A moment later, so that the delay histogram has recorded the stall the apply itself caused.
    setTimeout(() => {
      send({
        type: 'applied',
        version,
        at,
        kind: last?.kind ?? '?',
        lockMs: round(last?.lockMs ?? 0, 1),
        seconds,
        longestStallMs: round(delay.max / 1e6, 1),
        rssMb: mb(process.memoryUsage().rss),
        maxRssMb: mb(process.resourceUsage().maxRSS * 1024),
      });
      delay.reset();
      since = performance.now();
    }, 50);
  }, 5);
  send({ type: 'ready' });
  process.once('SIGTERM', () => {
    clearInterval(timer);
    void running.stop().then(() => process.exit(0));
  });
}

export function printMembersBench(r: MembersBenchResult): void {
  const n = (x: number): string => x.toLocaleString('en-GB');
  const who = r.branchList === 'everyone' ? 'everyone' : `registered for open access and staff (branchList: registered) of ${n(r.rows)} in the export`;
  console.log(`member list, LMS export → central → a branch over MQTT (embedded broker, loopback), ${n(r.members)} members: ${who}`);
  console.log(`  central import      ${r.central.importSeconds} s (${n(r.central.rowsPerSecond)} rows/s), RSS ${r.central.rssMb} MB (peak ${r.central.maxRssMb} MB)`);
  console.log(`  snapshot on wire    ${(r.wire.snapshotBytes / 2 ** 20).toFixed(1)} MB in ${r.wire.chunks} chunks (${r.wire.bytesPerMember} bytes a member)`);
  console.log(
    `  branch              transfer + apply ${r.branch.snapshotSeconds} s; write lock held ${r.branch.applyLockMs} ms; longest event-loop stall ${r.branch.longestStallMs} ms; RSS ${r.branch.rssMb} MB (peak ${r.branch.maxRssMb} MB)`,
  );
  console.log(
    `  delta of ${n(r.delta.changes)}       re-import ${r.delta.importSeconds} s, then at the branch in ${r.delta.propagationSeconds} s (write lock ${r.delta.applyLockMs} ms): ${r.delta.endToEndSeconds} s end to end`,
  );
  console.log(
    `  delta file          ${n(r.deltaFile.rows)} rows (${n(r.deltaFile.changes)} list changes): import ${r.deltaFile.importSeconds} s, then at the branch in ${r.deltaFile.propagationSeconds} s (write lock ${r.deltaFile.applyLockMs} ms): ${r.deltaFile.endToEndSeconds} s end to end`,
  );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv[2] === '--branch') {
    const [brokerUrl, protocol, keyHex, dir] = process.argv.slice(3) as [string, string, string, string];
    await runBranch(brokerUrl, Number(protocol) === 5 ? 5 : 4, keyHex, dir);
  } else {
    const members = Number(process.argv[2] ?? 1_000_000);
    const changes = Number(process.argv[3] ?? 1000);
    const at = process.argv.indexOf('--registered');
    const registeredShare = at < 0 ? undefined : Number(process.argv[at + 1]);
    if (!Number.isInteger(members) || members < 1 || !Number.isInteger(changes) || changes < 1) {
      console.error('usage: npx tsx scripts/bench/members.ts [members] [changes] [--registered SHARE] [--json]');
      process.exit(2);
    }
    if (registeredShare !== undefined && !(registeredShare > 0 && registeredShare <= 1)) {
      console.error('--registered: a share above 0 and at most 1 (0.1 is 10%)');
      process.exit(2);
    }
    const result = await benchMembers({ members, changes, registeredShare });
    printMembersBench(result);
    if (process.argv.includes('--json')) console.log(JSON.stringify(result, null, 2));
  }
}
