import { writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { openStore } from '../../../gateway/store/index.js';
import { runMembersImport, runMembersStats } from '../../../scripts/commands/members.js';
import { KEY, cardHash, useTempDir, writeCsv } from './helpers.js';

const tmp = useTempDir();
const HEADER = 'card_number,date_of_birth,expiry_date,blocked,blocked_until,open_access,staff,groups';
const card = (i: number): string => `2100000000${String(i).padStart(4, '0')}`;
const rows = (n: number, from = 1): string[] => Array.from({ length: n }, (_, i) => `${card(from + i)},17/05/1990,2027-03-31,N,,yes,0,`);

function capture(): { io: { out: (t: string) => void; err: (t: string) => void }; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return { io: { out: (t) => void (out += t), err: (t) => void (err += t) }, out: () => out, err: () => err };
}

function keyFile(key = KEY): string {
  const path = tmp.path('key.hex');
  writeFileSync(path, `${key.toString('hex')}\n`);
  return path;
}

beforeEach(() => {
  vi.stubEnv('OAG_DEPLOYMENT_KEY', '');
});
afterEach(() => {
  vi.unstubAllEnvs();
});

describe('oag members import', () => {
  it('imports with the key from a file and prints a readable summary', async () => {
    const file = writeCsv(tmp.path('members.csv'), [HEADER, ...rows(30), `${card(99)},17/05/1990,31/02/2026,N,,yes,0,`]);
    const c = capture();
    const code = await runMembersImport(file, { store: tmp.path('gw.sqlite'), keyFile: keyFile() }, c.io);
    expect(code).toBe(0);
    expect(c.out()).toContain('members.csv → ');
    expect(c.out()).toContain('list version 1, 30 members');
    expect(c.out()).toMatch(/added\s+30\n/);
    expect(c.out()).toMatch(/rejected\s+1 of 31 rows\n/);
    expect(c.out()).toContain('line 32: expiry_date: not a date "31/02/2026"');
    const store = openStore(tmp.path('gw.sqlite'));
    expect(store.members.find(cardHash(card(1)))).toBeDefined();
    store.close();
  });

  it('takes the key from OAG_DEPLOYMENT_KEY (hex or base64) and prints JSON on request', async () => {
    vi.stubEnv('OAG_DEPLOYMENT_KEY', KEY.toString('base64'));
    const file = writeCsv(tmp.path('members.csv'), [HEADER, ...rows(3)]);
    const c = capture();
    expect(await runMembersImport(file, { store: tmp.path('gw.sqlite'), json: true }, c.io)).toBe(0);
    expect(JSON.parse(c.out())).toMatchObject({ added: 3, count: 3, version: 1, rejected: [], total: 3 });
    const store = openStore(tmp.path('gw.sqlite'));
    expect(store.members.find(cardHash(card(2)))).toBeDefined(); // same key, same hashes
    store.close();
  });

  it('refuses to run without a key, or with a short one, and says how to make one', async () => {
    const file = writeCsv(tmp.path('members.csv'), [HEADER, ...rows(3)]);
    const c = capture();
    expect(await runMembersImport(file, { store: tmp.path('gw.sqlite') }, c.io)).toBe(2);
    expect(c.err()).toContain('OAG_DEPLOYMENT_KEY: not set');
    expect(c.err()).toContain('openssl rand -hex 32');
    const short = capture();
    expect(await runMembersImport(file, { store: tmp.path('gw.sqlite'), keyFile: keyFile(Buffer.alloc(16, 1)) }, short.io)).toBe(2);
    expect(short.err()).toContain('must be at least 32 bytes');
    expect(short.err()).not.toContain(Buffer.alloc(16, 1).toString('hex'));
  });

  it('exits 1 and changes nothing when the file is refused', async () => {
    const good = writeCsv(tmp.path('good.csv'), [HEADER, ...rows(5)]);
    expect(await runMembersImport(good, { store: tmp.path('gw.sqlite'), keyFile: keyFile() }, capture().io)).toBe(0);
    const bad = writeCsv(tmp.path('bad.csv'), ['card_number,expiry_date', `${card(50)},2027-01-01`]);
    const c = capture();
    expect(await runMembersImport(bad, { store: tmp.path('gw.sqlite'), keyFile: keyFile() }, c.io)).toBe(1);
    expect(c.err()).toContain('missing columns');
    expect(c.err()).not.toContain(card(50));
    const store = openStore(tmp.path('gw.sqlite'));
    expect(store.members.stats()).toMatchObject({ count: 5, version: 1 });
    store.close();
  });

  it('reads the store path, the column mapping and the key file from the gateway config', async () => {
    writeFileSync(tmp.path('key.hex'), KEY.toString('hex'));
    writeFileSync(
      tmp.path('gateway.yaml'),
      [
        'site: test-branch',
        'policyFile: policy.yaml',
        'hardware: { gpio: { driver: simulated }, readers: [{ id: entry, driver: simulated }] }',
        'store: { path: data/gw.sqlite }',
        'deploymentKeyFile: key.hex',
        'members:',
        '  mapping:',
        '    columns: { cardNumber: Barcode, openAccess: Category, expires: Expiry }',
        '    openAccessValues: [OA]',
      ].join('\n'),
    );
    const file = writeCsv(tmp.path('lms.csv'), ['Barcode,Category,Expiry', `${card(1)},OA,2027-01-01`, `${card(2)},STD,2027-01-01`]);
    const c = capture();
    expect(await runMembersImport(file, { config: tmp.path('gateway.yaml') }, c.io)).toBe(0);
    const store = openStore(tmp.path('data/gw.sqlite'));
    expect(store.members.find(cardHash(card(1)))?.openAccess).toBe(true);
    expect(store.members.find(cardHash(card(2)))?.openAccess).toBe(false);
    store.close();
  });

  it('reports progress on a pipe as a line every 10%', async () => {
    const file = writeCsv(tmp.path('members.csv'), [HEADER, ...rows(30_000)]);
    const c = capture();
    expect(await runMembersImport(file, { store: tmp.path('gw.sqlite'), keyFile: keyFile() }, c.io, { tty: false })).toBe(0);
    const lines = c.err().split('\n').filter((l) => /^\d+% /.test(l));
    expect(lines.length).toBeGreaterThanOrEqual(4);
    expect(lines.length).toBeLessThanOrEqual(9);
    expect(c.err()).toContain('read 30,000 rows; applying');
  });
});

describe('oag members stats', () => {
  it('shows the list in force, and says when there is none or no store', async () => {
    const file = writeCsv(tmp.path('members.csv'), [HEADER, ...rows(4)]);
    await runMembersImport(file, { store: tmp.path('gw.sqlite'), keyFile: keyFile() }, capture().io);
    const c = capture();
    expect(runMembersStats({ store: tmp.path('gw.sqlite') }, c.io)).toBe(0);
    expect(c.out()).toContain('list version 1, 4 members');
    expect(c.out()).toContain('from      csv:members.csv');
    const json = capture();
    runMembersStats({ store: tmp.path('gw.sqlite'), json: true }, json.io);
    expect(JSON.parse(json.out())).toMatchObject({ count: 4, version: 1, source: 'csv:members.csv' });
    const missing = capture();
    expect(runMembersStats({ store: tmp.path('nope.sqlite') }, missing.io)).toBe(2);
    expect(missing.err()).toContain('no store there');
  });
});
