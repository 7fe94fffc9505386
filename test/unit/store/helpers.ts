import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { createCardHasher, normaliseCardId } from '../../../gateway/core/cards.js';
import { openStore } from '../../../gateway/store/index.js';
import type { Member, MemberRow, Store, StoreOptions } from '../../../gateway/store/index.js';

export const KEY = Buffer.from('0f1e2d3c4b5a69788796a5b4c3d2e1f000112233445566778899aabbccddeeff', 'hex');
export const hasher = createCardHasher(KEY);
export const cardHash = (card: string): Buffer => hasher(normaliseCardId(card));

/** A temp folder per test, removed afterwards, with the stores opened in it closed first. */
export function useTempDir(): { dir: () => string; open: (name?: string, opts?: StoreOptions) => Store; path: (name: string) => string } {
  let current: string | undefined;
  const stores: Store[] = [];
  afterEach(() => {
    for (const store of stores.splice(0)) store.close();
    if (current !== undefined) rmSync(current, { recursive: true, force: true });
    current = undefined;
  });
  const dir = (): string => (current ??= mkdtempSync(join(tmpdir(), 'oag-store-test-')));
  return {
    dir,
    path: (name) => join(dir(), name),
    open: (name = 'gateway.sqlite', opts) => {
      const store = openStore(join(dir(), name), opts);
      stores.push(store);
      return store;
    },
  };
}

export function member(overrides: Partial<Member> = {}): Member {
  return {
    expires: '2027-03-31',
    blocked: false,
    blockedUntil: null,
    openAccess: true,
    birthDate: '1990-05-17',
    adult: null,
    staff: false,
    groups: [],
    pinHash: null,
    ...overrides,
  };
}

export function row(card: string, overrides: Partial<Member> = {}): MemberRow {
  return { cardHash: cardHash(card), ...member(overrides) };
}

export function writeCsv(path: string, lines: readonly string[]): string {
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

/** The bytes of the database file and its WAL, for searching. */
export function databaseBytes(path: string): Buffer {
  const parts = [path, `${path}-wal`].filter((p) => existsSync(p)).map((p) => readFileSync(p));
  return Buffer.concat(parts);
}
