// Central's member list on PostgreSQL: the shared suite (test/store-suites/member-store-suite.ts) that SQLite passes
// too, each test on a database of its own with two store objects on their own pools (two central instances): a
// version made through one is current through the other, and changes made at once make consecutive versions. And
// `oag central members import` with store.postgres writes the shared list.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { PgMemberStore } from '../../central/members/pg-member-store.js';
import { SqliteMemberStore } from '../../central/members/sqlite-member-store.js';
import { CentralStore } from '../../central/store.js';
import { runCentralMembersImport } from '../../scripts/commands/central.js';
import { memberStoreSuite } from '../store-suites/member-store-suite.js';
import { postgresPerFile } from '../helpers/postgres-per-file.js';
import { storesOnNewDatabase } from '../helpers/postgres.js';

const logger = pino({ level: 'silent' });
const server = postgresPerFile();

memberStoreSuite('postgres', () => storesOnNewDatabase(server, (url) => PgMemberStore.open(url, { logger, max: 4 })));

describe('oag central members import with store.postgres', () => {
  it('imports into the list every instance shares, not into the SQLite file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oag-members-pg-'));
    try {
      const url = await server.newDatabase();
      writeFileSync(join(dir, 'pg.url'), url, { mode: 0o600 });
      writeFileSync(join(dir, 'deployment.key'), 'c3'.repeat(32), { mode: 0o600 });
      writeFileSync(join(dir, 'central.yaml'), ['store:', '  path: central.sqlite', '  postgres:', '    urlFile: pg.url', 'members:', '  branchList: everyone', ''].join('\n'));
      const rows = Array.from({ length: 30 }, (_, i) => `21${String(i).padStart(12, '0')},1980-05-01,2030-01-31,N,,Y,N,`);
      writeFileSync(join(dir, 'export.csv'), ['card_number,date_of_birth,expiry_date,blocked,blocked_until,open_access,staff,groups', ...rows, ''].join('\n'));
      let out = '';
      const io = { out: (s: string) => void (out += s), err: (s: string) => void (out += s) };
      const status = await runCentralMembersImport(join(dir, 'export.csv'), { config: join(dir, 'central.yaml'), keyFile: join(dir, 'deployment.key') }, io);
      expect(status, out).toBe(0);
      expect(out).toContain('new version 1, 30 members');
      // Another instance's store on the same database has it.
      const other = await PgMemberStore.open(url, { logger, max: 1 });
      try {
        expect(await other.current()).toMatchObject({ version: 1, count: 30 });
      } finally {
        await other.close();
      }
      const sqlite = new CentralStore(join(dir, 'central.sqlite'));
      try {
        expect(await new SqliteMemberStore(sqlite.db).current()).toBeNull();
      } finally {
        sqlite.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
