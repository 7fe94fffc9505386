// Files people hand the gateway: its config and a policy through `oag check-config` (in process for the many,
// the real CLI for a sample, since a spawn costs a second and a half), and member exports through the branch
// import into a store of the soak's own.
//
// A crash here is an exception the function did not turn into its own answer (check-config: exit status 0 or 1
// with `path: reason` lines; import: a summary or an ImportError), or for the CLI an exit status other than 0/1,
// a signal, or a stack trace printed. A state change is a refused import that changed the list in force.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { runCheckConfig } from '../commands/check-config.js';
import { createCardHasher } from '../../gateway/core/cards.js';
import { ImportError, importMembersCsv } from '../../gateway/members/index.js';
import type { Store } from '../../gateway/store/index.js';
import type { Rng } from './mutate.js';
import { mutateText, mutateValue, stringifyBounded } from './mutate.js';

export const STACK_LINE = /^\s+at /m;

/** A gateway config whose every named file exists in `dir` (check-config reads them all), so a valid one passes. */
export function configTemplate(site: string, dir: string): string {
  writeFileSync(join(dir, 'mqtt-password'), 'soak-password\n');
  writeFileSync(join(dir, 'ca.crt'), '-----BEGIN CERTIFICATE-----\nsoak\n-----END CERTIFICATE-----\n');
  return stringify({
    site,
    policyFile: 'policy.yaml',
    lock: { type: 'fail-secure', unlockMs: 5000, heldOpenSeconds: 30 },
    store: { path: 'var/gateway.sqlite', retentionDays: 30 },
    clock: { trust: 'auto' },
    http: { host: '127.0.0.1', port: 8080 },
    hardware: {
      gpio: { driver: 'sysfs' },
      outputs: { door: { pin: 17, activeLevel: 'low' }, lights: { pin: 27 }, sounder: { pin: 22 }, ledGreen: { pin: 23 }, ledRed: { pin: 24 } },
      inputs: { doorContact: { pin: 5, activeLevel: 'high' }, exitButton: { pin: 6 } },
      readers: [{ id: 'entry', driver: 'pcsc', role: 'entry', namePattern: 'ACR122|ACR1252' }],
    },
    mqtt: { url: 'mqtts://broker.example.org:8883', username: site, passwordFile: join(dir, 'mqtt-password'), tls: { ca: join(dir, 'ca.crt') } },
    log: { level: 'info' },
  });
}

export function policyTemplate(site: string): string {
  return stringify({
    version: 3,
    site,
    name: 'Soak Village Library',
    timezone: 'Europe/London',
    schedule: {
      weekly: {
        mon: [{ from: '08:00', to: '20:00', mode: 'open-access' }],
        wed: [
          { from: '08:00', to: '14:00', mode: 'open-access' },
          { from: '14:00', to: '17:00', mode: 'staffed' },
        ],
        sun: [{ from: '10:00', to: '16:00', mode: 'open-access' }],
      },
      exceptions: [{ date: '2026-12-25', label: 'Christmas Day' }],
    },
    rules: { minimumAge: 18, capacity: 20, lastEntryMinutes: 15, pin: 'open-access' },
  });
}

/** A member export in the default columns: a hundred rows of the kinds the import knows. */
export function csvTemplate(rows = 100): string {
  const lines = ['card_number,date_of_birth,expiry_date,blocked,blocked_until,open_access,staff,groups'];
  for (let i = 0; i < rows; i += 1) {
    const card = `2100${String(i).padStart(10, '0')}`;
    lines.push(`${card},${(i % 28) + 1}/0${(i % 9) + 1}/19${50 + (i % 50)},2027-0${(i % 9) + 1}-1${i % 10},${i % 7 === 0 ? 'Y' : 'N'},${i % 7 === 0 ? '2026-04-30' : ''},${i % 3 === 0 ? 'no' : 'yes'},${i % 11 === 0 ? 1 : 0},${i % 5 === 0 ? 'scouts-1st-town' : ''}`);
  }
  return `${lines.join('\n')}\n`;
}

/** A malformed version of a YAML document: text mutations, or its values mutated and written as YAML or JSON. */
export function malformedDocument(rng: Rng, template: string, parsed: unknown): { strategy: string; bytes: Buffer } {
  if (rng.chance(0.35)) {
    const value = mutateValue(rng, parsed);
    const asJson = rng.chance(0.3);
    try {
      return { strategy: `value-mutated (${asJson ? 'JSON' : 'YAML'})`, bytes: Buffer.from(asJson ? stringifyBounded(value, 300_000) : stringify(value)) };
    } catch {
      return { strategy: 'value-mutated (JSON)', bytes: Buffer.from(stringifyBounded(value, 300_000)) };
    }
  }
  return mutateText(rng, template, 'yaml');
}

export interface CheckOutcome {
  crashed: boolean;
  accepted: boolean;
  detail?: string | undefined;
}

/** `oag check-config FILE` in process: exit status 0 or 1, or a crash (it threw). */
export async function checkInProcess(file: string): Promise<CheckOutcome> {
  const lines: string[] = [];
  try {
    const code = await runCheckConfig(file, { out: () => {}, err: (text) => lines.push(text) });
    if (code !== 0 && code !== 1) return { crashed: true, accepted: false, detail: `exit status ${code}` };
    return { crashed: false, accepted: code === 0 };
  } catch (error) {
    return { crashed: true, accepted: false, detail: (error as Error).stack ?? String(error) };
  }
}

/** The real CLI: `node bin/oag.js check-config FILE`. */
export function checkWithCli(root: string, file: string, timeoutMs = 60_000): Promise<CheckOutcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, 'bin/oag.js'), 'check-config', file], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      if (stderr.length < 100_000) stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const crashed = signal !== null || (code !== 0 && code !== 1) || STACK_LINE.test(stderr);
      resolve({ crashed, accepted: code === 0, detail: crashed ? `exit ${code ?? signal}: ${stderr.slice(0, 2000)}` : undefined });
    });
  });
}

export interface ImportOutcome {
  crashed: boolean;
  accepted: boolean;
  /** A refused file that changed the list in force anyway. */
  changed: boolean;
  detail?: string | undefined;
}

function listOf(store: Store): string {
  const { count, version, hash } = store.members.stats();
  return JSON.stringify({ count, version, hash });
}

/** Imports one file into `store`. */
export async function importOnce(store: Store, file: string, key: Buffer): Promise<ImportOutcome> {
  const before = listOf(store);
  try {
    await importMembersCsv(store, file, { hasher: createCardHasher(key), now: new Date('2026-06-01T12:00:00Z') });
    return { crashed: false, accepted: true, changed: false };
  } catch (error) {
    const after = listOf(store);
    if (error instanceof ImportError) return { crashed: false, accepted: false, changed: before !== after, detail: before !== after ? `${before} → ${after}` : undefined };
    return { crashed: true, accepted: false, changed: before !== after, detail: (error as Error).stack ?? String(error) };
  }
}

export function writeInput(dir: string, name: string, bytes: Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}
