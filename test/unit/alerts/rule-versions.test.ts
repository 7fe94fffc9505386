import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { AlertRuleVersions } from '../../../central/alerts/rule-versions.js';
import { SqliteAlertsStore } from '../../../central/alerts/sqlite-alerts-store.js';
import { rulesInput } from './helpers.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function fileDb(): string {
  const dir = mkdtempSync(join(tmpdir(), 'oag-rules-'));
  dirs.push(dir);
  return join(dir, 'central.sqlite');
}

const at = new Date('2025-06-02T09:00:00Z');

describe('alert rule versions', () => {
  it('a malformed save is refused with named fields, and the previous version stays in force, after a restart too', async () => {
    const path = fileDb();
    const db = new Database(path);
    const versions = await AlertRuleVersions.open(new SqliteAlertsStore(db), { timezone: 'Europe/London' });
    expect(versions.current().version).toBe(0);
    expect(versions.current().doc.rules).toEqual([]);

    const first = await versions.save(rulesInput(), { actor: 'admin:ann', at });
    expect(first).toMatchObject({ ok: true, version: 1 });

    const broken = rulesInput();
    (broken.rules as Array<{ steps: Array<{ afterMinutes: number }> }>)[0]!.steps[1]!.afterMinutes = 0;
    const refused = await versions.save(broken, { actor: 'admin:ann', at });
    expect(refused).toEqual({
      ok: false,
      code: 'invalid',
      errors: ['rules[0].steps[1].afterMinutes: must be at least 1 (a later step waits for an acknowledgement)'],
    });
    expect(versions.current().version).toBe(1);
    expect(versions.current().doc.rules[0]?.steps[1]?.afterMinutes).toBe(15);
    expect((await versions.versions()).map((v) => v.version)).toEqual([1]);
    db.close();

    const again = await AlertRuleVersions.open(new SqliteAlertsStore(new Database(path)), { timezone: 'Europe/London' });
    expect(again.current().version).toBe(1);
    expect(again.current().match({ site: 'x', alarm: 'fire', severity: 'critical' })?.rule.id).toBe('fire');
  });

  it('keeps every version with who saved it, and refuses a save based on an older one', async () => {
    const versions = await AlertRuleVersions.open(new SqliteAlertsStore(new Database(':memory:')), { timezone: 'Europe/London' });
    expect(await versions.save(rulesInput(), { actor: 'admin:ann', at, basedOn: 0 })).toMatchObject({ ok: true, version: 1 });
    const second = rulesInput({ offline: { afterMinutes: 30 } });
    expect(await versions.save(second, { actor: 'admin:bo', at: new Date('2025-06-03T09:00:00Z'), basedOn: 1 })).toMatchObject({ ok: true, version: 2 });
    // Ann still edits from version 1: her save would undo Bo's change.
    const stale = await versions.save(rulesInput(), { actor: 'admin:ann', at, basedOn: 1 });
    expect(stale).toEqual({ ok: false, code: 'conflict', errors: ['basedOn: the rules were changed since version 1 (now version 2): load them again'] });
    expect(versions.current().offlineAfterMs).toBe(30 * 60_000);
    expect(await versions.versions()).toEqual([
      { version: 2, actor: 'admin:bo', at: '2025-06-03T09:00:00.000Z' },
      { version: 1, actor: 'admin:ann', at: '2025-06-02T09:00:00.000Z' },
    ]);
    expect((await versions.version(1))?.doc).toEqual(rulesInput());
  });

  it('saves YAML text as its JSON reading', async () => {
    const versions = await AlertRuleVersions.open(new SqliteAlertsStore(new Database(':memory:')), { timezone: 'Europe/London' });
    const saved = await versions.saveText('contacts: [{ name: Ann, email: ann@example.org }]\nrules: [{ id: all, alarms: ["*"], steps: [{ afterMinutes: 0, contacts: [Ann] }] }]\n', { actor: 'admin:ann', at });
    expect(saved).toMatchObject({ ok: true, version: 1 });
    expect((await versions.version(1))?.doc).toEqual({
      contacts: [{ name: 'Ann', email: 'ann@example.org' }],
      rules: [{ id: 'all', alarms: ['*'], steps: [{ afterMinutes: 0, contacts: ['Ann'] }] }],
    });
    expect(await versions.saveText('rules: [{ id: all }]\n', { actor: 'admin:ann', at })).toMatchObject({ ok: false, code: 'invalid' });
    expect(versions.current().version).toBe(1);
  });
});
