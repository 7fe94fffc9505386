import { writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { migrations } from '../../../gateway/store/migrations.js';
import { SCHEMA_VERSION, StoreError, StoreVersionError, openStore } from '../../../gateway/store/index.js';
import { cardHash, useTempDir } from './helpers.js';

const tmp = useTempDir();

function inspect(path: string): { version: number; tables: string[]; journal: string } {
  const db = new Database(path, { readonly: true });
  try {
    return {
      version: db.pragma('user_version', { simple: true }) as number,
      tables: (db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all() as string[]),
      journal: db.pragma('journal_mode', { simple: true }) as string,
    };
  } finally {
    db.close();
  }
}

describe('opening a store', () => {
  it('creates the schema on a fresh file, in WAL mode, and records its version', () => {
    const store = tmp.open();
    store.close();
    const found = inspect(tmp.path('gateway.sqlite'));
    expect(found.version).toBe(SCHEMA_VERSION);
    expect(found.journal).toBe('wal');
    expect(found.tables).toEqual(expect.arrayContaining(['events', 'member_list', 'members', 'pin_failures', 'settings']));
  });

  it('numbers its migrations 1, 2, 3… so that each is applied once', () => {
    expect(migrations.map((m) => m.id)).toEqual(migrations.map((_, i) => i + 1));
    expect(SCHEMA_VERSION).toBe(migrations.length);
  });

  it('re-opens an existing store without re-applying anything, data intact', () => {
    const first = tmp.open();
    first.settings.set('occupancy', 7);
    first.close();
    const again = tmp.open();
    expect(again.settings.get('occupancy')).toBe(7);
    again.close();
    expect(inspect(tmp.path('gateway.sqlite')).version).toBe(SCHEMA_VERSION);
  });

  it('creates the folder of the store', () => {
    const store = openStore(tmp.path('var/lib/oag/gateway.sqlite'));
    store.close();
    expect(inspect(tmp.path('var/lib/oag/gateway.sqlite')).version).toBe(SCHEMA_VERSION);
  });

  it('refuses a store written by a newer gateway, with a message that says what to do', () => {
    tmp.open().close();
    const path = tmp.path('gateway.sqlite');
    const db = new Database(path);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    let error: unknown;
    try {
      openStore(path);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StoreVersionError);
    expect((error as Error).message).toContain(`schema version ${SCHEMA_VERSION + 1}, newer than this gateway understands (${SCHEMA_VERSION})`);
    expect((error as Error).message).toContain('upgrade the gateway');
    // Refusing did not touch it.
    expect(inspect(path).version).toBe(SCHEMA_VERSION + 1);
  });

  it('refuses a file that is not a database', () => {
    const path = tmp.path('members.csv');
    writeFileSync(path, 'card_number,expiry_date\n'.repeat(200));
    expect(() => openStore(path)).toThrow(StoreError);
    expect(() => openStore(path)).toThrow('not a gateway store');
  });

  it('runs in WAL mode with synchronous=FULL, so a power cut loses no committed event or list swap', () => {
    expect(tmp.open().durability).toEqual({ journalMode: 'wal', synchronous: 'full' });
  });
});

describe('settings', () => {
  it('survive a restart, as JSON', () => {
    const store = tmp.open();
    store.settings.set('runtime', { lockdown: true, occupancy: 12, alarms: ['door-held'] });
    store.settings.set('runtime', { lockdown: false, occupancy: 3, alarms: [] });
    store.close();
    const again = tmp.open();
    expect(again.settings.get('runtime')).toEqual({ lockdown: false, occupancy: 3, alarms: [] });
    expect(again.settings.get('missing')).toBeUndefined();
  });

  it('are checked against a schema when one is given, naming the key when they do not fit', () => {
    const store = tmp.open();
    const Runtime = z.object({ lockdown: z.boolean(), occupancy: z.number().int().min(0) });
    store.settings.set('runtime', { lockdown: true, occupancy: 4 });
    expect(store.settings.get('runtime', Runtime)).toEqual({ lockdown: true, occupancy: 4 });
    store.settings.set('runtime', { lockdown: 'yes', occupancy: 4 });
    expect(() => store.settings.get('runtime', Runtime)).toThrow(/setting "runtime": stored value does not fit its schema/);
  });

  it('can be deleted, and refuse values JSON cannot hold', () => {
    const store = tmp.open();
    store.settings.set('a', [1, 2]);
    expect(store.settings.delete('a')).toBe(true);
    expect(store.settings.get('a')).toBeUndefined();
    expect(() => store.settings.set('b', undefined)).toThrow(TypeError);
  });
});

describe('PIN failures', () => {
  it('count up per card with the time of the last one, reset on success, and survive a restart', () => {
    const store = tmp.open();
    const card = cardHash('04A21B7C');
    expect(store.pins.get(card)).toBeUndefined();
    store.pins.recordFailure(card, new Date('2026-03-02T18:00:00Z'));
    const second = store.pins.recordFailure(card, new Date('2026-03-02T18:00:05Z'));
    expect(second).toEqual({ count: 2, lastAt: new Date('2026-03-02T18:00:05Z') });
    store.pins.recordFailure(cardHash('11112222'), new Date('2026-03-02T18:00:06Z'));
    store.close();
    const again = tmp.open();
    expect(again.pins.get(card)).toEqual({ count: 2, lastAt: new Date('2026-03-02T18:00:05Z') });
    again.pins.reset(card);
    expect(again.pins.get(card)).toBeUndefined();
    expect(again.pins.get(cardHash('11112222'))?.count).toBe(1);
    expect(again.pins.purgeOlderThan(new Date('2026-03-03T00:00:00Z'))).toBe(1);
  });
});
