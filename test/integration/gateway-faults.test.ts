// The door goes on through faults around it: a held write lock, a store that cannot be opened, a listener that
// throws, a port already taken. Real SQLite files and real sockets; fake time for the retries.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { parse } from 'yaml';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { addApiToken } from '../../gateway/console/index.js';
import { openStore } from '../../gateway/store/index.js';
import { removeDir, startHarness } from '../helpers/gateway-harness.js';
import type { Harness, HarnessOptions } from '../helpers/gateway-harness.js';
import { testSigningKey } from '../helpers/signing-keys.js';

const town = parse(readFileSync(new URL('../../policies/examples/town.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;
const MEMBERS = { '04A1B2C3D4': {}, '04A1B2C3D5': {}, '04A1B2C3D6': {} };
// Monday 23 November 2026, 19:00: open access at the town branch.
const OPEN_ACCESS = new Date('2026-11-23T19:00:00Z');

let harness: Harness | undefined;
const dirs: string[] = [];
const cleanups: Array<() => void> = [];

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  vi.setSystemTime(OPEN_ACCESS);
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) cleanup();
  await harness?.stop();
  harness = undefined;
  vi.useRealTimers();
  for (const dir of dirs.splice(0)) removeDir(dir);
});

async function start(options: Partial<HarnessOptions> = {}): Promise<Harness> {
  harness = await startHarness({ policy: town, members: MEMBERS, ...options });
  dirs.push(harness.dir);
  return harness;
}

function storedIds(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare<[], { id: string }>('SELECT id FROM events ORDER BY id').all().map((row) => row.id);
  } finally {
    db.close();
  }
}

/** A granted tap: the relay is energised at once, then the door locks again after the release time. */
function tapGranted(h: Harness, card: string): boolean {
  h.tap(card);
  const granted = h.doorRelayActive();
  vi.advanceTimersByTime(6000);
  return granted;
}

describe('a store whose write lock another process holds', () => {
  it('keeps deciding, raises the storage alarm once the lock outlasts the grace, and writes every event once when it is released', async () => {
    const h = await start();
    const path = join(h.dir, 'gateway.sqlite');
    const other = new Database(path);
    cleanups.push(() => other.close());
    other.exec('BEGIN IMMEDIATE');

    const before = h.events.length;
    expect(tapGranted(h, '04A1B2C3D4')).toBe(true);
    expect(h.running.storage.backlog).toBeGreaterThan(0);
    // The exit button releases the door whatever the store does.
    h.input('exitButton', true);
    h.input('exitButton', false);
    expect(h.doorRelayActive()).toBe(true);
    await vi.advanceTimersByTimeAsync(3000);
    expect(tapGranted(h, '04A1B2C3D5')).toBe(true);
    expect(h.running.gateway.state.alarms).toContain('storage');

    other.exec('COMMIT');
    await vi.advanceTimersByTimeAsync(2000);
    expect(h.running.storage.backlog).toBe(0);
    expect(h.running.gateway.state.alarms).not.toContain('storage');
    const ids = storedIds(path);
    const recorded = h.events.map((event) => event.id);
    for (const id of recorded) expect(ids).toContain(id);
    expect(new Set(ids).size).toBe(ids.length);
    // In the order they were recorded: the outbox is read by id.
    expect(recorded.slice(before)).toEqual(ids.filter((id) => recorded.slice(before).includes(id)));
    expect(h.reasons().filter((r) => r === 'member')).toHaveLength(2);
  });
});

describe('a store that fills up (SQLite max_page_count: a real SQLITE_FULL)', () => {
  it('keeps deciding from the list it can still read, buffers events, and writes them when space returns', async () => {
    const h = await start();
    const path = join(h.dir, 'gateway.sqlite');
    h.running.store.setSizeLimit(h.running.store.sizeBytes());
    const before = storedIds(path).length;

    // The pages in hand still have room for a few rows; tap on until they are gone, granted every time.
    let taps = 0;
    while (!h.running.gateway.state.alarms.includes('storage') && taps < 2000) {
      expect(tapGranted(h, '04A1B2C3D4')).toBe(true);
      taps += 1;
    }
    expect(h.running.gateway.state.alarms).toContain('storage');
    expect(tapGranted(h, '04A1B2C3D5')).toBe(true);
    expect(h.running.storage.backlog).toBeGreaterThan(0);
    const whileFull = storedIds(path).length;
    expect(tapGranted(h, '04A1B2C3D6')).toBe(true);
    expect(storedIds(path).length).toBe(whileFull);
    expect(whileFull).toBeGreaterThanOrEqual(before);

    h.running.store.setSizeLimit(null);
    await vi.advanceTimersByTimeAsync(15_000);
    expect(h.running.storage.backlog).toBe(0);
    expect(h.running.gateway.state.alarms).not.toContain('storage');
    const ids = storedIds(path);
    for (const event of h.events) expect(ids).toContain(event.id);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('a store that cannot be opened at start', () => {
  it('runs on an empty list in memory with the storage alarm, releases the exit, and moves to the real store when it can', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oag-gw-'));
    dirs.push(dir);
    const path = join(dir, 'gateway.sqlite');
    // Not a SQLite file at all: what a half-written SD card block or a wrong path gives.
    writeFileSync(path, 'this is not a database, it is a CSV someone copied here\n'.repeat(200));
    const h = await start({ dir, members: undefined });
    expect(h.running.store.mode).toBe('memory');
    expect(h.running.gateway.state.alarms).toContain('storage');

    h.tap('04A1B2C3D4');
    expect(h.reasons()).toEqual(['unknown-card']);
    h.input('exitButton', true);
    h.input('exitButton', false);
    expect(h.doorRelayActive()).toBe(true);

    // Somebody restores the store from a backup.
    rmSync(path);
    openStore(path).close();
    await vi.advanceTimersByTimeAsync(15_000);
    expect(h.running.store.mode).toBe('read-write');
    expect(h.running.gateway.state.alarms).not.toContain('storage');
    const ids = storedIds(path);
    for (const event of h.events) expect(ids).toContain(event.id);
  });
});

describe('a part that throws or cannot start', () => {
  it('grants the tap when a listener on the access event throws, and raises listener-failed', async () => {
    const h = await start();
    h.running.gateway.bus.on(
      'access',
      () => {
        throw new Error('a console bug');
      },
      'console',
    );
    expect(tapGranted(h, '04A1B2C3D4')).toBe(true);
    expect(h.reasons()).toEqual(['member']);
    expect(h.running.gateway.state.alarms).toContain('listener-failed');
  });

  it('runs the door when the console port is taken, raises local-api-failed, and starts the console once the port is free', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as AddressInfo).port;
    let blocking = true;
    cleanups.push(() => {
      if (blocking) blocker.close();
    });
    const h = await start({ config: { http: { enabled: true, host: '127.0.0.1', port } }, start: { extensionRetry: { firstMs: 1000, maxMs: 1000 } } });
    expect(h.running.api).toBeUndefined();
    expect(h.running.gateway.state.alarms).toContain('local-api-failed');
    expect(h.running.extensions.status().find((s) => s.name === 'local-api')?.error).toBe(`port ${port} on 127.0.0.1 is in use (http.port)`);
    expect(tapGranted(h, '04A1B2C3D4')).toBe(true);

    await new Promise<void>((resolve) => blocker.close(() => resolve()));
    blocking = false;
    await vi.advanceTimersByTimeAsync(1000);
    await vi.waitFor(() => expect(h.running.api).toBeDefined());
    expect(h.running.gateway.state.alarms).not.toContain('local-api-failed');
    const health = await fetch(`${h.running.api!.url}/api/health/detail`, { headers: { authorization: `Bearer ${addApiToken(h.running.store, 'tests', 'staff', 30).token}` } });
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ok: true, healthy: true, storage: { mode: 'read-write', backlog: 0 } });
  });

  it('runs the door without its uplink while the MQTT password file is missing, and says which file in the alarm and on /api/health', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oag-gw-'));
    dirs.push(dir);
    const passwordFile = join(dir, 'mqtt.password');
    const h = await start({
      dir,
      config: {
        http: { enabled: true, host: '127.0.0.1', port: 0 },
        mqtt: { url: 'mqtt://127.0.0.1:9', username: 'town-central', passwordFile, protocolVersion: 4, centralKeys: [testSigningKey().publicFile] },
      },
      start: { extensionRetry: { firstMs: 1000, maxMs: 1000 } },
    });
    expect(h.running.gateway.state.alarms).toContain('uplink-failed');
    expect(tapGranted(h, '04A1B2C3D4')).toBe(true);
    const detail = await fetch(`${h.running.api!.url}/api/health/detail`, { headers: { authorization: `Bearer ${addApiToken(h.running.store, 'tests', 'staff', 30).token}` } });
    const health = (await detail.json()) as { healthy: boolean; parts: Array<{ name: string; state: string; error?: string }> };
    expect(health.healthy).toBe(false);
    expect(health.parts.find((part) => part.name === 'uplink')).toMatchObject({
      state: 'failed',
      error: `mqtt.passwordFile (${passwordFile}): cannot read: ENOENT`,
    });

    writeFileSync(passwordFile, 'secret\n');
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.running.extensions.status().find((part) => part.name === 'uplink')?.state).toBe('running');
    expect(h.running.gateway.state.alarms).not.toContain('uplink-failed');
  });
});
