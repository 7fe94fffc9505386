// The store from outside: its folder, the free space, and the member list's version and age read without a write.
import { chownSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseGatewayConfig, type GatewayConfigInput } from '../../../gateway/config.js';
import { checkStore } from '../../../gateway/doctor/store-checks.js';
import { openStore } from '../../../gateway/store/index.js';
import { adult } from '../../helpers/gateway-harness.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'oag-doctor-store-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const NOW = new Date('2026-12-03T12:00:00Z');

function config(storePath: string, extra: Partial<GatewayConfigInput> = {}) {
  return parseGatewayConfig({ site: 'town-central', policyFile: 'policy.yaml', store: { path: storePath }, hardware: { gpio: { driver: 'simulated' }, readers: [{ id: 'entry', driver: 'simulated' }] }, ...extra });
}

/** A store whose list was applied `daysAgo` before NOW. */
function storeWithList(path: string, daysAgo: number, members = 2): void {
  const store = openStore(path, { clock: { now: () => new Date(NOW.getTime() - daysAgo * 86_400_000) } });
  try {
    store.members.replaceAll(
      Array.from({ length: members }, (_, i) => ({ ...adult, cardHash: Buffer.alloc(32, i + 1) })),
      { version: 7, source: 'csv:members.csv' },
    );
  } finally {
    store.close();
  }
}

describe('doctor: the store', () => {
  it('reports a writable folder, the free space and the list in force', () => {
    const path = join(dir, 'gateway.sqlite');
    storeWithList(path, 2);
    const findings = checkStore(config(path), { user: 'oag', now: NOW, freeBytes: () => 2048 * 1024 * 1024 });
    expect(findings.map((f) => [f.id, f.status])).toEqual([['store.writable', 'ok'], ['store.space', 'ok'], ['store.open', 'ok'], ['members.age', 'ok']]);
    expect(findings.find((f) => f.id === 'members.age')?.found).toBe('member list version 7, 2 members, from csv:members.csv, imported 2 days ago');
  });

  it('fails a store path that runs through a file, with the fix', () => {
    writeFileSync(join(dir, 'var'), '');
    const [writable] = checkStore(config(join(dir, 'var', 'gateway.sqlite')), { user: 'oag', now: NOW });
    expect(writable).toMatchObject({ status: 'fail', found: `the store's folder ${join(dir, 'var')} cannot be made: ${join(dir, 'var')} is a file` });
    expect(writable?.fix).toContain('sudo mkdir -p');
  });

  it('fails a nearly full disk, and warns of a filling one', () => {
    const path = join(dir, 'gateway.sqlite');
    storeWithList(path, 0);
    expect(checkStore(config(path), { user: 'oag', now: NOW, freeBytes: () => 10 * 1024 * 1024 }).find((f) => f.id === 'store.space')).toMatchObject({ status: 'fail', found: expect.stringContaining('only 10 MiB free') });
    expect(checkStore(config(path), { user: 'oag', now: NOW, freeBytes: () => 200 * 1024 * 1024 }).find((f) => f.id === 'store.space')?.status).toBe('warn');
  });

  it('fails a list older than members.staleAfterDays, and an empty store', () => {
    const path = join(dir, 'gateway.sqlite');
    storeWithList(path, 40);
    const stale = checkStore(config(path), { user: 'oag', now: NOW }).find((f) => f.id === 'members.age');
    expect(stale).toMatchObject({ status: 'fail', found: expect.stringContaining('imported 40 days ago (members.staleAfterDays: 30)') });
    expect(stale?.fix).toContain('oag members import');
    const empty = join(dir, 'empty', 'gateway.sqlite');
    mkdirSync(join(dir, 'empty'));
    openStore(empty).close();
    expect(checkStore(config(empty), { user: 'oag', now: NOW }).find((f) => f.id === 'members.age')).toMatchObject({ status: 'fail', found: 'no member list in the store: no member card opens the door' });
  });

  // Root only: as another user the files cannot be given away, and are not made by root either.
  it.runIf(process.getuid?.() === 0)('run as root beside a stopped gateway, leaves the files SQLite makes to the store\'s owner', () => {
    const path = join(dir, 'gateway.sqlite');
    storeWithList(path, 0);
    chownSync(path, 4242, 4242);
    checkStore(config(path), { user: 'root', now: NOW });
    for (const suffix of ['-wal', '-shm']) expect(statSync(`${path}${suffix}`).uid, suffix).toBe(4242);
  });

  it('takes a folder not made yet as the gateway making it at its first start', () => {
    const [writable] = checkStore(config(join(dir, 'var', 'gateway.sqlite')), { user: 'oag', now: NOW });
    expect(writable).toMatchObject({ status: 'warn', found: expect.stringContaining('the gateway makes it at its first start') });
  });
});
