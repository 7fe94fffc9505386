// The real `oag gateway` process on simulated hardware, with its store on a small tmpfs of its own, reporting to
// central through Debian's mosquitto (TLS, password file, ACL), while its surroundings fail under it: the disk
// fills up, another process holds the store's write lock, the MQTT password file is missing. Each time the door
// goes on deciding taps, the fault is an alarm that reaches central where it can, and once the fault is gone every
// event the gateway recorded meanwhile is in its store once and at central once.
//
// What the gateway generated is read from its own log: it logs each event with its id as it records it, before
// any disk is involved, so "none missing" is checked against what was made, not against what happened to be
// written. Waits are polls with generous bounds; nothing here asserts that anything was quick (the one time
// compared is a lower bound: the storage alarm for a held lock comes only after its grace).
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync, closeSync, openSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestContext } from 'vitest';
import { parseCentralConfig, startCentral } from '../../central/main.js';
import type { RunningCentral } from '../../central/main.js';
import {
  GatewayProcess,
  centralEventIds,
  duplicates,
  loggedEventIds,
  memberCard,
  missingFrom,
  repoRoot,
  seedMembers,
  storeEvents,
  until,
  writeGatewayFiles,
} from '../helpers/gateway-process.js';
import type { StoredEventRow } from '../helpers/gateway-process.js';
import { freePort, startMosquitto } from '../helpers/mosquitto.js';
import type { RunningMosquitto } from '../helpers/mosquitto.js';
import { centralHeaders } from '../helpers/central-auth.js';
import { testSigningKey } from '../helpers/signing-keys.js';

const DISK_SITE = 'faults-disk';
const LOCK_SITE = 'faults-lock';
const PASSWORD_SITE = 'faults-password';
const PASSWORDS: Record<string, string> = { central: 'c-pw', [DISK_SITE]: 'disk-pw', [LOCK_SITE]: 'lock-pw', [PASSWORD_SITE]: 'password-pw' };
const MEMBERS = 20;
/** The store writer's grace for a held write lock (gateway/extensions/storage.ts). */
const BUSY_GRACE_MS = 2000;

/** Why this machine cannot run these tests (not root, or tmpfs mounts refused), or undefined when it can. */
function tmpfsUnavailable(probe: string): string | undefined {
  if (process.getuid?.() !== 0) return 'gateway-faults needs root to mount a small tmpfs for the store (run the system tests as root, as CI does)';
  mkdirSync(probe, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { stdio: 'pipe' });
  } catch (error) {
    return `gateway-faults needs \`mount -t tmpfs\`, which this machine refused: ${String((error as { stderr?: Buffer }).stderr ?? error).trim()}`;
  }
  execFileSync('umount', [probe], { stdio: 'pipe' });
  return undefined;
}

/** Writes one file until the file system has no room left; returns its size. */
function fillDisk(path: string): number {
  const fd = openSync(path, 'w');
  let written = 0;
  try {
    // Large blocks first, then small ones for what is left, so the disk is full to the last block.
    for (const size of [1 << 20, 1 << 12, 512]) {
      const block = Buffer.alloc(size, 0x5a);
      for (;;) {
        try {
          written += writeSync(fd, block);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw error;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

/** User + system CPU seconds a process has used so far (Linux /proc). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function alarmEvents(rows: StoredEventRow[], alarm: string): Array<{ at: string; state: string }> {
  return rows
    .filter((r) => r.type === 'alarm')
    .map((r) => ({ at: r.at, ...(JSON.parse(r.data) as { alarm: string; state: string }) }))
    .filter((d) => d.alarm === alarm)
    .map((d) => ({ at: d.at, state: d.state }));
}

describe('the real gateway process when its store and uplink fail', () => {
  let dir: string;
  let skipReason: string | undefined;
  let broker: RunningMosquitto | undefined;
  let central: RunningCentral | undefined;
  let centralStore: string;
  const mounts: string[] = [];
  const gateways: GatewayProcess[] = [];
  const lockers: Array<ReturnType<typeof spawn>> = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'oag-faults-'));
    skipReason = tmpfsUnavailable(join(dir, 'probe'));
    if (skipReason !== undefined) return;
    broker = await startMosquitto({ users: PASSWORDS, centralUser: 'central' });
    const tls = { ca: broker.certs.ca, cert: broker.certs.clientCert, key: broker.certs.clientKey };
    centralStore = join(dir, 'central.sqlite');
    central = await startCentral(
      parseCentralConfig({ signing: { keyFile: testSigningKey().privateFile }, broker: { url: broker.url, username: 'central', password: PASSWORDS.central, tls }, http: { port: 0 }, store: { path: centralStore }, log: { level: 'silent' } }),
      { clock: { now: () => new Date() }, logger: pino({ level: 'silent' }) },
    );
  });

  afterAll(async () => {
    for (const locker of lockers) if (locker.exitCode === null && locker.signalCode === null) locker.kill('SIGKILL');
    for (const gateway of gateways) await gateway.stop('SIGKILL');
    await central?.close();
    await broker?.stop();
    for (const mount of mounts) execFileSync('umount', ['-l', mount], { stdio: 'pipe' });
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  function skipUnlessPossible(ctx: TestContext): void {
    if (skipReason === undefined) return;
    console.warn(`skipped: ${skipReason}`);
    ctx.skip(skipReason);
  }

  /** A small tmpfs of the test's own for one gateway's store. */
  function smallDisk(name: string, size = '16m'): string {
    const path = join(dir, name);
    mkdirSync(path, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', path], { stdio: 'pipe' });
    mounts.push(path);
    return path;
  }

  async function startSite(site: string, options: { mqtt?: Record<string, unknown> } = {}): Promise<{ gateway: GatewayProcess; storePath: string; logPath: string; siteDir: string }> {
    const siteDir = join(dir, site);
    mkdirSync(siteDir, { recursive: true });
    const storePath = join(smallDisk(`${site}-disk`), 'gateway.sqlite');
    seedMembers(storePath, MEMBERS);
    const port = await freePort();
    const tls = { ca: broker!.certs.ca, cert: broker!.certs.clientCert, key: broker!.certs.clientKey };
    const config = writeGatewayFiles({
      site,
      dir: siteDir,
      storePath,
      port,
      mqtt: options.mqtt ?? { url: broker!.url, username: site, password: PASSWORDS[site], tls, reconnectPeriodMs: 200, reconnectMaxMs: 1000 },
    });
    const logPath = join(siteDir, 'gateway.log');
    const gateway = await GatewayProcess.start({ config, port, logPath });
    gateways.push(gateway);
    return { gateway, storePath, logPath, siteDir };
  }

  /** Deliveries central dropped as duplicates so far (QoS 1 is at least once; central de-duplicates by id). */
  async function centralDuplicates(): Promise<number> {
    return ((await (await fetch(`${central!.httpUrl}/api/stats`, { headers: await centralHeaders(central!) })).json()) as { ingest: { duplicates: number } }).ingest.duplicates;
  }

  async function centralState(site: string): Promise<{ alarms: string[] } | undefined> {
    const response = await fetch(`${central!.httpUrl}/api/sites/${site}`, { headers: await centralHeaders(central!) });
    if (!response.ok) return undefined;
    return ((await response.json()) as { state: { alarms: string[] } | null }).state ?? undefined;
  }

  /**
   * Stops tapping, waits for the door to lock again (its last event), then until what the gateway logged, what its
   * store holds and what central stored are one and the same set of ids, each once.
   */
  async function expectEveryEventOnceEverywhere(site: string, gateway: GatewayProcess, storePath: string, logPath: string): Promise<{ events: number; rows: StoredEventRow[] }> {
    await until(async () => (await gateway.state()).door === 'locked', 'the door to lock again after the last grant', 60_000);
    let logged: string[] = [];
    let rows: StoredEventRow[] = [];
    let atCentral: string[] = [];
    await until(
      () => {
        logged = loggedEventIds(logPath, site);
        rows = storeEvents(storePath);
        atCentral = centralEventIds(centralStore, site);
        const stored = rows.map((r) => r.id);
        return (
          missingFrom(logged, stored).length === 0 &&
          rows.every((r) => r.published === 1) &&
          missingFrom(stored, atCentral).length === 0 &&
          missingFrom(atCentral, stored).length === 0
        );
      },
      () => {
        const stored = rows.map((r) => r.id);
        return `every logged event stored, published and at central (logged ${logged.length}, stored ${stored.length}, unpublished ${rows.filter((r) => r.published !== 1).length}, at central ${atCentral.length}, logged but not stored ${missingFrom(logged, stored).length}, stored but not at central ${missingFrom(stored, atCentral).length})`;
      },
      90_000,
      200,
    );
    const stored = rows.map((r) => r.id);
    expect(duplicates(logged)).toEqual([]);
    expect(duplicates(atCentral)).toEqual([]);
    expect([...stored].sort()).toEqual([...new Set(logged)].sort());
    expect([...atCentral].sort()).toEqual([...stored].sort());
    return { events: stored.length, rows };
  }

  /** Taps member cards in turn; every tap must be decided (granted), whatever the store is doing. */
  function tapper(gateway: GatewayProcess): { tap(): Promise<void>; count(): number; sawUnlocked(): boolean } {
    let taps = 0;
    let unlockedSeen = false;
    return {
      async tap() {
        const answer = await gateway.tap(memberCard(taps % MEMBERS));
        taps += 1;
        expect(answer).toMatchObject({ status: 200, result: 'granted' });
        // The grant drove the relay: the door reads unlocked for the pulse (5 s, renewed by every grant).
        if ((await gateway.state()).door === 'unlocked') unlockedSeen = true;
      },
      count: () => taps,
      sawUnlocked: () => unlockedSeen,
    };
  }

  function expectAccessEventsPerTap(rows: StoredEventRow[], taps: number): void {
    // One access event per tap: none lost from the buffer, none written twice.
    const access = rows.filter((r) => r.type === 'access').map((r) => JSON.parse(r.data) as { decision: string });
    expect(access).toHaveLength(taps);
    expect(access.every((a) => a.decision === 'granted')).toBe(true);
  }

  it('full disk and back: the door decides, the storage alarm reaches central, and every event arrives once', async (ctx) => {
    skipUnlessPossible(ctx);
    const { gateway, storePath, logPath } = await startSite(DISK_SITE);
    const duplicatesBefore = await centralDuplicates();
    const taps = tapper(gateway);
    for (let i = 0; i < 10; i += 1) await taps.tap();
    await until(() => centralEventIds(centralStore, DISK_SITE).length >= 10, 'central to have the first taps', 60_000);

    const filler = join(storePath, '..', 'filler');
    const filled = fillDisk(filler);
    // SQLite may still have room inside its WAL file: the disk shows once a write needs a new block.
    await until(
      async () => {
        await taps.tap();
        return (await gateway.state()).alarms.includes('storage');
      },
      'the storage alarm after the disk filled up',
      120_000,
      0,
    );
    const tapsBeforeAlarm = taps.count();
    // A grant on the full disk drives the relay from locked: the door reads unlocked, its event waits in memory.
    await until(async () => (await gateway.state()).door === 'locked', 'the door to lock again', 60_000);
    await taps.tap();
    const cpuBefore = cpuSeconds(gateway.child.pid!);
    const fullSince = Date.now();
    for (let i = 0; i < 30; i += 1) await taps.tap();
    await until(async () => (await centralState(DISK_SITE))?.alarms.includes('storage') === true, 'central to show the storage alarm in the state', 60_000);
    const buffered = missingFrom(loggedEventIds(logPath, DISK_SITE), storeEvents(storePath).map((r) => r.id)).length;
    expect(buffered).toBeGreaterThanOrEqual(30);
    const cpuWhileFull = (cpuSeconds(gateway.child.pid!) - cpuBefore) / ((Date.now() - fullSince) / 1000);

    unlinkSync(filler);
    await until(async () => !(await gateway.state()).alarms.includes('storage'), 'the storage alarm to clear once the disk has room', 60_000);
    for (let i = 0; i < 5; i += 1) await taps.tap();
    expect(taps.sawUnlocked()).toBe(true);
    await until(async () => (await centralState(DISK_SITE))?.alarms.includes('storage') === false, 'central to show the storage alarm cleared', 60_000);

    const { events, rows } = await expectEveryEventOnceEverywhere(DISK_SITE, gateway, storePath, logPath);
    expectAccessEventsPerTap(rows, taps.count());
    expect(alarmEvents(rows, 'storage').map((a) => a.state)).toEqual(['raised', 'cleared']);
    // The grants made while the disk was full drove the relay: their door events were buffered and written later.
    const raisedAt = alarmEvents(rows, 'storage')[0]!.at;
    const clearedAt = alarmEvents(rows, 'storage')[1]!.at;
    const unlocked = rows.filter((r) => r.type === 'door' && (JSON.parse(r.data) as { state: string }).state === 'unlocked').map((r) => r.at);
    expect(unlocked.some((at) => at >= raisedAt && at <= clearedAt)).toBe(true);
    console.log(
      `full disk: filler ${filled} bytes; alarm after ${tapsBeforeAlarm - 10} taps on the full disk; ${taps.count()} taps, ${events} events, ` +
        `${buffered} buffered at once; gateway CPU while full ${(cpuWhileFull * 100).toFixed(0)}%; duplicate deliveries dropped by central ${(await centralDuplicates()) - duplicatesBefore}`,
    );
  });

  it('held write lock: taps are decided, the storage alarm comes after the grace, and everything is written once after', async (ctx) => {
    skipUnlessPossible(ctx);
    const { gateway, storePath, logPath } = await startSite(LOCK_SITE);
    const duplicatesBefore = await centralDuplicates();
    const taps = tapper(gateway);
    for (let i = 0; i < 10; i += 1) await taps.tap();
    await until(() => centralEventIds(centralStore, LOCK_SITE).length >= 10, 'central to have the first taps', 60_000);
    // Nothing is recorded between here and the first tap under the lock, so the first failed write follows `lockedAt`.
    await until(async () => (await gateway.state()).door === 'locked', 'the door to lock after the first taps', 60_000);

    // Another process (an import at the branch, say) takes the write lock and keeps it until told.
    const locker = spawn(
      process.execPath,
      [
        '-e',
        `const db = new (require('better-sqlite3'))(process.argv[1]);
         db.exec('BEGIN IMMEDIATE');
         process.stdout.write('locked\\n');
         process.stdin.once('data', () => { db.exec('COMMIT'); db.close(); process.exit(0); });`,
        storePath,
      ],
      { cwd: repoRoot, stdio: ['pipe', 'pipe', 'inherit'] },
    );
    lockers.push(locker);
    await new Promise<void>((resolve, reject) => {
      locker.stdout!.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('locked')) resolve();
      });
      locker.once('exit', (code) => reject(new Error(`the lock holder exited (${code}) before taking the lock`)));
    });
    const lockedAt = Date.now();
    const cpuBefore = cpuSeconds(gateway.child.pid!);

    await until(
      async () => {
        await taps.tap();
        return (await gateway.state()).alarms.includes('storage');
      },
      'the storage alarm while the write lock is held',
      120_000,
      100,
    );
    for (let i = 0; i < 10; i += 1) await taps.tap();
    const buffered = missingFrom(loggedEventIds(logPath, LOCK_SITE), storeEvents(storePath).map((r) => r.id)).length;
    expect(buffered).toBeGreaterThanOrEqual(10);
    await until(async () => (await centralState(LOCK_SITE))?.alarms.includes('storage') === true, 'central to show the storage alarm in the state', 60_000);

    const cpuWhileLocked = (cpuSeconds(gateway.child.pid!) - cpuBefore) / ((Date.now() - lockedAt) / 1000);
    locker.stdin!.write('release\n');
    await new Promise((resolve) => (locker.exitCode !== null ? resolve(undefined) : locker.once('exit', resolve)));
    await until(async () => !(await gateway.state()).alarms.includes('storage'), 'the storage alarm to clear after the lock is released', 60_000);
    for (let i = 0; i < 5; i += 1) await taps.tap();
    expect(taps.sawUnlocked()).toBe(true);

    const { events, rows } = await expectEveryEventOnceEverywhere(LOCK_SITE, gateway, storePath, logPath);
    expectAccessEventsPerTap(rows, taps.count());
    const storage = alarmEvents(rows, 'storage');
    expect(storage.map((a) => a.state)).toEqual(['raised', 'cleared']);
    // Raised only once the lock had been held past the grace: a lower bound, so a slow machine cannot fail it.
    expect(Date.parse(storage[0]!.at) - lockedAt).toBeGreaterThanOrEqual(BUSY_GRACE_MS);
    console.log(
      `held lock: ${taps.count()} taps, ${events} events, ${buffered} buffered at once; alarm ${Date.parse(storage[0]!.at) - lockedAt} ms after the lock was taken; ` +
        `gateway CPU while locked ${(cpuWhileLocked * 100).toFixed(0)}%; duplicate deliveries dropped by central ${(await centralDuplicates()) - duplicatesBefore}`,
    );
  });

  it('missing MQTT password file: the door works, uplink-failed is raised, and the uplink starts on its retry once the file is there', async (ctx) => {
    skipUnlessPossible(ctx);
    const passwordFile = join(dir, PASSWORD_SITE, 'mqtt-password');
    mkdirSync(join(dir, PASSWORD_SITE), { recursive: true });
    const tls = { ca: broker!.certs.ca, cert: broker!.certs.clientCert, key: broker!.certs.clientKey };
    const { gateway, storePath, logPath } = await startSite(PASSWORD_SITE, {
      mqtt: { url: broker!.url, username: PASSWORD_SITE, passwordFile, tls, reconnectPeriodMs: 200, reconnectMaxMs: 1000 },
    });
    const taps = tapper(gateway);
    await until(async () => (await gateway.state()).alarms.includes('uplink-failed'), 'the uplink-failed alarm', 60_000);
    for (let i = 0; i < 10; i += 1) await taps.tap();
    expect(centralEventIds(centralStore, PASSWORD_SITE)).toEqual([]);

    writeFileSync(passwordFile, `${PASSWORDS[PASSWORD_SITE]}\n`);
    // The extension host's backoff starts at 1 s and doubles: the next try comes within seconds of the file.
    await until(async () => {
      const state = await gateway.state();
      return !state.alarms.includes('uplink-failed') && state.uplink?.connected === true;
    }, 'the uplink to start on its retry and connect', 120_000, 200);
    for (let i = 0; i < 5; i += 1) await taps.tap();
    expect(taps.sawUnlocked()).toBe(true);

    const { events, rows } = await expectEveryEventOnceEverywhere(PASSWORD_SITE, gateway, storePath, logPath);
    expectAccessEventsPerTap(rows, taps.count());
    expect(alarmEvents(rows, 'uplink-failed').map((a) => a.state)).toEqual(['raised', 'cleared']);
    console.log(`missing password file: ${taps.count()} taps, ${events} events, all at central once after the uplink started`);
  });
});
