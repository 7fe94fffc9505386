// A member export that is not what it claims to be changes nothing at the branch: cut off in the middle of writing,
// shrunk to a fraction of the list, hashed with another deployment key, not UTF-8, or absurdly large.
import { truncateSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ImportError, importMembersCsv } from '../../../gateway/members/index.js';
import type { Store } from '../../../gateway/store/index.js';
import { createCardHasher, deploymentKeyId } from '../../../policies/cards.js';
import { runMembersImport } from '../../../scripts/commands/members.js';
import { KEY, cardHash, hasher, useTempDir } from './helpers.js';

const tmp = useTempDir();
const now = new Date('2026-03-02T09:00:00Z');
const HEADER = 'card_number,date_of_birth,expiry_date,blocked,blocked_until,open_access,staff,groups';
const card = (i: number): string => `2100000000${String(i).padStart(4, '0')}`;
const row = (i: number): string => `${card(i)},17/05/1990,2027-03-31,N,,yes,0,`;
const rows = (from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => row(from + i));
const OTHER_KEY = Buffer.alloc(32, 0xa1);

function file(name: string, content: string | Buffer): string {
  const path = tmp.path(name);
  writeFileSync(path, content);
  return path;
}

async function importError(promise: Promise<unknown>): Promise<ImportError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ImportError);
    return error as ImportError;
  }
  throw new Error('the import was expected to fail');
}

/** A store holding members 1..20 (from a file, with KEY). */
async function storeWithTwenty(): Promise<{ store: Store; before: ReturnType<Store['members']['stats']> }> {
  const store = tmp.open();
  await importMembersCsv(store, file('first.csv', `${[HEADER, ...rows(1, 20)].join('\n')}\n`), { hasher, keyId: deploymentKeyId(KEY), now });
  return { store, before: store.members.stats() };
}

function unchanged(store: Store, before: ReturnType<Store['members']['stats']>): void {
  expect(store.members.stats()).toEqual(before);
  for (let i = 1; i <= 20; i++) expect(store.members.find(cardHash(card(i))), `member ${i}`).toBeDefined();
}

function capture(): { io: { out: (t: string) => void; err: (t: string) => void }; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return { io: { out: (t) => void (out += t), err: (t) => void (err += t) }, out: () => out, err: () => err };
}

function keyFile(name: string, key: Buffer): string {
  return file(name, `${key.toString('hex')}\n`);
}

beforeEach(() => {
  vi.stubEnv('OAG_DEPLOYMENT_KEY', '');
});
afterEach(() => {
  vi.unstubAllEnvs();
});

describe('a cut-short export', () => {
  it('is refused when its last line stops in the middle of a row, and no member after the cut is removed', async () => {
    const { store, before } = await storeWithTwenty();
    // The copy stopped inside member 15's row: 14 good rows, a broken one, no line break at the end.
    const cut = file('cut.csv', [HEADER, ...rows(1, 14), row(15).slice(0, 20)].join('\n'));
    const error = await importError(importMembersCsv(store, cut, { hasher, now, maxRemovedFraction: 1 }));
    expect(error.message).toBe(`${cut}: the last line (16) stops in the middle of a row, without a line break: a cut-short export? nothing changed`);
    expect(error.message).not.toContain(card(15));
    unchanged(store, before);
  });

  it('is refused through `oag members import` with exit 1', async () => {
    const { store, before } = await storeWithTwenty();
    store.close();
    const cut = file('cut.csv', [HEADER, ...rows(1, 18), `${card(19)},17/05/19`].join('\n'));
    const c = capture();
    expect(await runMembersImport(cut, { store: tmp.path('gateway.sqlite'), keyFile: keyFile('key.hex', KEY) }, c.io)).toBe(1);
    expect(c.err()).toContain('stops in the middle of a row');
    const again = tmp.open();
    unchanged(again, before);
  });

  it('is refused when it ends inside a quoted field', async () => {
    const { store, before } = await storeWithTwenty();
    const cut = file('quote.csv', [HEADER, ...rows(1, 17), `${card(18)},17/05/1990,2027-03-31,N,,yes,0,"scouts-1st-town;che`].join('\n'));
    const error = await importError(importMembersCsv(store, cut, { hasher, now, maxRemovedFraction: 1 }));
    expect(error.message).toBe(`${cut}: the file ends inside a quoted field (a quote is never closed): a cut-short export? nothing changed`);
    unchanged(store, before);
  });

  it('is not suspected when only the final line break is missing', async () => {
    const { store } = await storeWithTwenty();
    const summary = await importMembersCsv(store, file('no-newline.csv', [HEADER, ...rows(1, 20)].join('\n')), { hasher, now });
    expect(summary).toMatchObject({ count: 20, removed: 0, rejectedCount: 0 });
  });
});

describe('a line longer than a record may be', () => {
  it('is refused whole, naming its line, with no member after it dropped', async () => {
    const { store, before } = await storeWithTwenty();
    // csv-parse loses its place after an over-long record: the rows after it would have gone missing unannounced.
    const long = `${card(21)},${'x'.repeat(70_000)},2027-03-31,N,,yes,0,`;
    const error = await importError(importMembersCsv(store, file('long.csv', `${[HEADER, ...rows(1, 10), long, ...rows(11, 20)].join('\n')}\n`), { hasher, keyId: deploymentKeyId(KEY), now }));
    expect(error.message).toMatch(/long\.csv: line 12 is longer than 65536 bytes, so the lines after it cannot be read reliably .*: nothing changed$/);
    unchanged(store, before);
  });
});

describe('the removal guard', () => {
  it('refuses a file that would remove more than half of the list, whole and by default', async () => {
    const { store, before } = await storeWithTwenty();
    const short = file('short.csv', `${[HEADER, ...rows(1, 8)].join('\n')}\n`);
    const error = await importError(importMembersCsv(store, short, { hasher, now }));
    expect(error.message).toBe(
      `${short}: would remove 12 of the 20 members (more than the 50% allowed; a cut-short export?); if the list really shrank, import it with --max-removed-fraction 1: nothing changed`,
    );
    unchanged(store, before);
  });

  it('lets exactly the allowed share go, and more when told to', async () => {
    const { store } = await storeWithTwenty();
    expect(await importMembersCsv(store, file('half.csv', `${[HEADER, ...rows(1, 10)].join('\n')}\n`), { hasher, now })).toMatchObject({ removed: 10, count: 10 });
    expect(await importMembersCsv(store, file('two.csv', `${[HEADER, ...rows(1, 2)].join('\n')}\n`), { hasher, now, maxRemovedFraction: 1 })).toMatchObject({ removed: 8, count: 2 });
  });

  it('is overridden with --max-removed-fraction, or members.maxRemovedFraction in the gateway config', async () => {
    const { store, before } = await storeWithTwenty();
    store.close();
    const short = file('short.csv', `${[HEADER, ...rows(1, 5)].join('\n')}\n`);
    const key = keyFile('key.hex', KEY);
    const refused = capture();
    expect(await runMembersImport(short, { store: tmp.path('gateway.sqlite'), keyFile: key }, refused.io)).toBe(1);
    expect(refused.err()).toContain('would remove 15 of the 20 members');
    unchanged(tmp.open(), before);

    const config = file('gateway.yaml', `site: town\npolicyFile: policy.yaml\nstore: { path: gateway.sqlite }\ndeploymentKeyFile: key.hex\nmembers: { maxRemovedFraction: 0.8 }\nhardware: { gpio: { driver: simulated }, readers: [{ id: entry, driver: simulated }] }\n`);
    expect(await runMembersImport(short, { config }, capture().io)).toBe(0);

    const bad = capture();
    expect(await runMembersImport(short, { store: tmp.path('gateway.sqlite'), keyFile: key, maxRemovedFraction: 'most' }, bad.io)).toBe(2);
    expect(bad.err()).toContain('--max-removed-fraction: must be a number from 0 to 1');
    expect(await runMembersImport(file('one.csv', `${[HEADER, row(1)].join('\n')}\n`), { store: tmp.path('gateway.sqlite'), keyFile: key, maxRemovedFraction: '1' }, capture().io)).toBe(0);
  });
});

describe('another deployment key', () => {
  it('is refused for a list in force made with a different key, and taken with --new-key', async () => {
    const { store, before } = await storeWithTwenty();
    store.close();
    const same = file('same.csv', `${[HEADER, ...rows(1, 20)].join('\n')}\n`);
    const c = capture();
    expect(await runMembersImport(same, { store: tmp.path('gateway.sqlite'), keyFile: keyFile('other.hex', OTHER_KEY) }, c.io)).toBe(1);
    expect(c.err()).toContain(`the list in force was made with deployment key ${deploymentKeyId(KEY)}, this import would hash with key ${deploymentKeyId(OTHER_KEY)}`);
    unchanged(tmp.open(), before);

    const rekeyed = capture();
    expect(await runMembersImport(same, { store: tmp.path('gateway.sqlite'), keyFile: keyFile('other.hex', OTHER_KEY), newKey: true }, rekeyed.io)).toBe(0);
    const after = tmp.open();
    expect(after.members.find(createCardHasher(OTHER_KEY)(card(3)))).toBeDefined();
    expect(after.members.find(cardHash(card(3)))).toBeUndefined();
  });

  it('is refused when --key-file and the config name different keys', async () => {
    file('key.hex', KEY.toString('hex'));
    const config = file('gateway.yaml', 'site: town\npolicyFile: policy.yaml\nstore: { path: gateway.sqlite }\ndeploymentKeyFile: key.hex\nhardware: { gpio: { driver: simulated }, readers: [{ id: entry, driver: simulated }] }\n');
    const c = capture();
    expect(await runMembersImport(file('m.csv', `${[HEADER, row(1)].join('\n')}\n`), { config, keyFile: keyFile('other.hex', OTHER_KEY) }, c.io)).toBe(2);
    expect(c.err()).toContain(`is deployment key ${deploymentKeyId(OTHER_KEY)}, but ${config} has deploymentKeyFile`);
  });

  it('does not hold on to a key recorded for a list that has since been replaced (by central, say)', async () => {
    const { store } = await storeWithTwenty();
    // Central's list arrives with its own key: the recorded key belongs to a list no longer in force.
    store.members.replaceAll([{ cardHash: createCardHasher(OTHER_KEY)(card(1)), expires: null, blocked: false, blockedUntil: null, openAccess: true, birthDate: null, adult: true, staff: false, groups: [], pinHash: null }], { source: 'central' });
    const other = createCardHasher(OTHER_KEY);
    const summary = await importMembersCsv(store, file('m.csv', `${[HEADER, ...rows(1, 3)].join('\n')}\n`), { hasher: other, keyId: deploymentKeyId(OTHER_KEY), now });
    expect(summary).toMatchObject({ count: 3 });
  });
});

describe('what the file is', () => {
  it('refuses bytes that are not UTF-8, naming the byte and the line, rather than importing U+FFFD', async () => {
    const { store, before } = await storeWithTwenty();
    const lines = [HEADER, ...rows(1, 20)];
    lines[3] = `${lines[3]}caf`;
    const text = `${lines.join('\n')}\n`;
    const at = text.indexOf('caf') + 3;
    const bytes = Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from([0xe9]), Buffer.from(text.slice(at))]);
    const error = await importError(importMembersCsv(store, file('latin1.csv', bytes), { hasher, now }));
    expect(error.message).toBe(`${tmp.path('latin1.csv')}: not valid UTF-8 at byte ${at} (line 4); export it as UTF-8: nothing changed`);
    unchanged(store, before);
  });

  it('says when an export is UTF-16 (a spreadsheet\'s "Unicode text")', async () => {
    const store = tmp.open();
    const error = await importError(importMembersCsv(store, file('utf16.csv', Buffer.from(`\uFEFF${HEADER}\n${row(1)}\n`, 'utf16le')), { hasher, now }));
    expect(error.message).toMatch(/not valid UTF-8 at byte 0 \(line 1\); it looks like UTF-16/);
  });

  it('refuses a file over 1 GiB before reading it', async () => {
    const store = tmp.open();
    const huge = file('huge.csv', `${HEADER}\n`);
    truncateSync(huge, 1024 ** 3 + 1); // sparse: no gigabyte is written
    const error = await importError(importMembersCsv(store, huge, { hasher, now }));
    expect(error.message).toBe(`${huge}: too large (1,073,741,825 bytes; the limit is 1 GiB): nothing changed`);
  });

  it('names a folder given as the file', async () => {
    const error = await importError(importMembersCsv(tmp.open(), tmp.dir(), { hasher, now }));
    expect(error.message).toBe(`${tmp.dir()}: is a folder, not a file: nothing changed`);
  });
});
