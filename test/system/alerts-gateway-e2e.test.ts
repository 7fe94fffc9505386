// Issue #14 end to end from a real branch: the `oag gateway` process (simulated hardware, the real clock) reporting to
// a real central over its embedded broker, with an SMTP channel to a real SMTP server. The policy, computed when the
// test starts, makes the branch open access now and closed at the next minute boundary at least LEAD_MS away. A member
// taps in (no door contact is fitted, so the grant is taken as the entry, an estimate), nobody leaves, the close passes, and the gateway
// raises people-inside-after-close by itself. Central opens an incident and mails the first contact; nobody
// acknowledges, so a minute later the second is mailed; an operator resets the count at the branch through central,
// the branch clears the alarm, and the incident is cleared at central.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import pino from 'pino';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCentralConfig, startCentral, type RunningCentral } from '../../central/main.js';
import { centralHeaders } from '../helpers/central-auth.js';
import { freePort } from '../helpers/free-port.js';
import { GatewayProcess, memberCard, seedMembers, until, writeGatewayFiles } from '../helpers/gateway-process.js';
import { SmtpSink, writeTestCaFile } from '../helpers/smtp-sink.js';
import { testSigningKey } from '../helpers/signing-keys.js';
import { addMqttUser, mqttPasswordFileIn } from '../helpers/mqtt-credentials.js';

const SITE = 'riverside';
const TIMEZONE = 'Europe/London';
const ALARM = 'people-inside-after-close';
const ALICE = 'alice@example.org';
const BOB = 'bob@example.org';
/** The close is at least this far from when the policy is computed: time for the gateway to start and the tap. */
const LEAD_MS = 20_000;

interface IncidentJson {
  id: number;
  site: string;
  alarm: string;
  severity: string;
  detail: string | null;
  status: string;
  openedAt: string;
  acknowledged: { by: string } | null;
  cleared: { by: string; at: string } | null;
}

interface IncidentDetailJson extends IncidentJson {
  history: Array<{ at: string; kind: string; actor: string; note: string | null }>;
  messages: Array<{ step: number; repeat: number; recipient: string; channel: string; state: string; createdAt: string }>;
}

interface BranchState {
  mode: string;
  modeUntil: string | null;
  occupancy: { inside: number };
  alarms: string[];
  lights: boolean;
}

let dir: string;
let smtp: SmtpSink;
let central: RunningCentral;
let gateway: GatewayProcess | undefined;
let closeAt: DateTime;
let startedAt: number;

async function api<T>(path: string, role: 'viewer' | 'operator' | 'administrator' = 'viewer', init?: { method: string; body: unknown }): Promise<{ status: number; body: T }> {
  const response = await fetch(new URL(path, central.httpUrl), {
    method: init?.method ?? 'GET',
    headers: { ...(init === undefined ? {} : { 'content-type': 'application/json' }), ...(await centralHeaders(central, role)) },
    body: init === undefined ? undefined : JSON.stringify(init.body),
  });
  return { status: response.status, body: (await response.json()) as T };
}

const incidents = async (state: 'open' | 'all' = 'open'): Promise<IncidentJson[]> =>
  (await api<{ incidents: IncidentJson[] }>(`/api/incidents?state=${state}&site=${SITE}`)).body.incidents;

const mailsTo = (address: string) => smtp.messages.filter((m) => m.to.includes(address));

/**
 * Open access from midnight until `close`, closed otherwise (no weekly windows): exceptions for the local dates from
 * now to the close, so a close just after midnight is still one open span.
 */
function policyClosingAt(close: DateTime, now: DateTime): Record<string, unknown> {
  const exceptions: Array<Record<string, unknown>> = [];
  for (let day = now.startOf('day'); day < close; day = day.plus({ days: 1 })) {
    const endsToday = close.startOf('day').equals(day);
    exceptions.push({ date: day.toISODate(), label: 'System test: open access until the close', windows: [{ from: '00:00', to: endsToday ? close.toFormat('HH:mm') : '24:00', mode: 'open-access' }] });
  }
  return { version: 1, site: SITE, name: 'Riverside (system test)', timezone: TIMEZONE, schedule: { weekly: {}, exceptions } };
}

beforeAll(async () => {
  startedAt = Date.now();
  dir = mkdtempSync(join(tmpdir(), 'oag-alerts-gw-e2e-'));
  smtp = await SmtpSink.start();
  central = await startCentral(
    parseCentralConfig({
      signing: { keyFile: testSigningKey().privateFile },
      embedded: { port: 0, passwordFile: mqttPasswordFileIn(dir) },
      http: { port: 0 },
      store: { path: join(dir, 'central.sqlite') },
      timezone: TIMEZONE,
      alerts: {
        tickSeconds: 1,
        channels: { email: { type: 'email', host: '127.0.0.1', port: smtp.port, caFile: writeTestCaFile(dir), from: 'alarms@library.example.org', timeoutMs: 5000 } },
        outbox: { baseDelayMs: 200, maxDelayMs: 1000 },
      },
      log: { level: 'silent' },
    }),
    { clock: { now: () => new Date() }, logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }) },
  );
  // Saved the way an administrator does, through the API.
  const saved = await api<{ version: number }>('/api/alerts/rules', 'administrator', {
    method: 'PUT',
    body: {
      doc: {
        contacts: [
          { name: 'Alice', email: ALICE },
          { name: 'Bob', email: BOB },
        ],
        rules: [{ id: 'after-close', alarms: [ALARM], steps: [{ afterMinutes: 0, contacts: ['Alice'] }, { afterMinutes: 1, contacts: ['Bob'] }] }],
      },
    },
  });
  expect(saved.status, JSON.stringify(saved.body)).toBe(200);

  // The close: the first minute boundary (the policy's resolution) at least LEAD_MS from now, in the site's zone.
  const now = DateTime.now().setZone(TIMEZONE);
  closeAt = now.plus({ milliseconds: LEAD_MS }).startOf('minute').plus({ minutes: 1 });
  const port = await freePort();
  const storePath = join(dir, 'gateway.sqlite');
  seedMembers(storePath, 1);
  const config = writeGatewayFiles({
    site: SITE,
    dir,
    storePath,
    port,
    mqtt: { url: central.brokerUrl, protocolVersion: central.mqttProtocolVersion, reconnectPeriodMs: 200, reconnectMaxMs: 1000, ...(await addMqttUser(mqttPasswordFileIn(dir), SITE)) },
  });
  // writeGatewayFiles writes an all-day policy: this one replaces it before the gateway reads it.
  writeFileSync(join(dir, 'policy.yaml'), stringify(policyClosingAt(closeAt, now)));
  gateway = await GatewayProcess.start({ config, port, logPath: join(dir, 'gateway.log') });
}, 120_000);

afterAll(async () => {
  await gateway?.stop();
  await central?.close();
  await smtp?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('people inside after close, from a real gateway to the mailbox and back', () => {
  it('raises at the close, mails the first contact, escalates to the second, and clears when the count is reset', async () => {
    const gw = gateway!;
    const branch = async (): Promise<BranchState> => (await gw.state()) as unknown as BranchState;
    const failing = (what: string) => () => `${what}; the gateway's log:\n${gw.logTail(30)}`;
    const marks: string[] = [`close ${Math.round((closeAt.toMillis() - startedAt) / 1000)} s after the start`];
    const mark = (what: string): void => void marks.push(`${what} at +${Math.round((Date.now() - startedAt) / 1000)} s`);

    // Open access now, until the close the policy says.
    const before = await branch();
    expect(before).toMatchObject({ mode: 'open-access', occupancy: { inside: 0 }, alarms: [] });
    expect(Date.parse(before.modeUntil!)).toBe(closeAt.toMillis());
    await until(async () => (await api(`/api/sites/${SITE}`)).status === 200, failing('the branch to appear at central'), 30_000, 200);

    // A member taps in and walks in; nobody leaves.
    const tap = await gw.tap(memberCard(0));
    expect(tap).toMatchObject({ status: 200, result: 'granted' });
    await until(async () => (await branch()).occupancy.inside === 1, failing('the entry to be counted'), 10_000);
    expect(await incidents()).toEqual([]);
    expect(DateTime.now().toMillis(), 'the tap came before the close').toBeLessThan(closeAt.toMillis());

    // The close passes; the gateway raises the alarm by itself, lights left on for whoever is inside.
    await until(
      async () => (await branch()).alarms.includes(ALARM),
      failing(`the branch to raise ${ALARM} after the close at ${closeAt.toISO()}`),
      closeAt.toMillis() - Date.now() + 60_000,
      250,
    );
    mark('raised at the branch');
    expect(await branch()).toMatchObject({ mode: 'closed', occupancy: { inside: 1 }, lights: true });

    // Central opens an incident and tells the first contact.
    await until(async () => (await incidents()).length === 1, failing('the incident at central'), 30_000, 200);
    const [incident] = await incidents();
    expect(incident).toMatchObject({ site: SITE, alarm: ALARM, severity: 'major', detail: 'about 1 inside (estimated)', acknowledged: null, cleared: null });
    await until(() => mailsTo(ALICE).length > 0, 'the first contact mailed', 30_000, 100);
    mark('first contact mailed');
    const first = mailsTo(ALICE)[0]!;
    expect(first.subject).toBe(`[MAJOR] ${ALARM} at ${SITE}`);
    expect(first.text).toContain('Detail: about 1 inside (estimated)');
    expect(first.text).toMatch(/https?:\/\/\S+\/ack\/[A-Za-z0-9_-]{43}/);
    expect(mailsTo(BOB)).toEqual([]);

    // Nobody acknowledges: after the escalation step the second contact is mailed.
    await until(() => mailsTo(BOB).length > 0, 'the second contact mailed', 150_000, 250);
    mark('second contact mailed');
    const second = mailsTo(BOB)[0]!;
    expect(second.subject).toBe(`[MAJOR] ${ALARM} at ${SITE}: not acknowledged for 1 min`);
    expect(second.text).toContain('Nobody has acknowledged it for 1 minutes.');
    const detail = (await api<IncidentDetailJson>(`/api/incidents/${incident!.id}`)).body;
    expect(detail).toMatchObject({ status: 'notified', acknowledged: null });
    const bobsMessage = detail.messages.find((m) => m.recipient === 'Bob');
    expect(bobsMessage).toMatchObject({ step: 1, repeat: 0, channel: 'email' });
    // Not before the step's minute (central's own clock on both sides).
    expect(Date.parse(bobsMessage!.createdAt) - Date.parse(detail.openedAt)).toBeGreaterThanOrEqual(60_000);
    expect(detail.history.filter((h) => h.kind === 'notified').map((h) => h.note)).toEqual(['step 1: Alice (email)', 'step 2: Bob (email)']);

    // Staff have checked the building: an operator resets the count at the branch through central.
    const reset = await api<{ ok: boolean; error?: string }>(`/api/sites/${SITE}/commands`, 'operator', { method: 'POST', body: { command: 'reset-occupancy' } });
    expect(reset).toMatchObject({ status: 200, body: { ok: true } });
    await until(async () => !(await branch()).alarms.includes(ALARM), failing('the branch to clear the alarm'), 10_000);
    expect(await branch()).toMatchObject({ mode: 'closed', occupancy: { inside: 0 }, lights: false });

    // The incident is cleared at central, by the branch.
    await until(async () => (await incidents()).length === 0, failing('the incident to leave the open list'), 30_000, 200);
    mark('cleared at central');
    console.log(`alerts from a real gateway: ${marks.join(', ')}`);
    const all = await incidents('all');
    expect(all).toMatchObject([{ id: incident!.id, status: 'cleared', cleared: { by: `site:${SITE}` }, acknowledged: null }]);
    // Nobody is told any more about a cleared incident.
    expect([mailsTo(ALICE).length, mailsTo(BOB).length]).toEqual([1, 1]);
  }, 240_000);
});
