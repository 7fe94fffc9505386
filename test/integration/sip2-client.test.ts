// The SIP2 client against a SIP2 responder on loopback speaking the real message format: login, look-ups, and
// every way an LMS link goes wrong. The pino output of every test is captured and searched for card numbers.
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Sip2Client } from '../../gateway/sip2/client.js';
import type { Sip2ClientOptions } from '../../gateway/sip2/client.js';
import { Sip2MappingSchema } from '../../gateway/sip2/mapping.js';
import { startSip2Responder } from '../helpers/sip2-responder.js';
import type { ResponderOptions, Sip2Responder } from '../helpers/sip2-responder.js';
import { until } from '../helpers/until.js';

const PASSWORD = 's3cret-pass';
const CARDS = {
  ada: '21000111222333',
  barred: '21000444555666',
  lost: '21000777888999',
  lapsed: '21000121212121',
  staff: '21000343434343',
  stranger: '29999000000001',
};

const PATRONS: ResponderOptions['patrons'] = {
  [CARDS.ada]: { name: 'Reader, Ada', fields: { PE: '20271231', PB: '19800501', PC: 'OA' } },
  [CARDS.barred]: { status: 'YYYY', fields: { PE: '20271231', PB: '19800501', PC: 'OA' } },
  [CARDS.lost]: { status: '    Y', fields: { PB: '19800501', PC: 'OA' } },
  [CARDS.lapsed]: { fields: { PE: '20250131', PB: '19800501', PC: 'OA' } },
  [CARDS.staff]: { fields: { PC: 'STAFF' } },
};

const mapping = Sip2MappingSchema.parse({ openAccess: { field: 'PC', values: ['OA'] }, staff: { field: 'PC', values: ['STAFF'] } });

let responder: Sip2Responder | undefined;
let client: Sip2Client | undefined;
let logLines: string[] = [];

afterEach(async () => {
  await client?.stop();
  await responder?.stop();
  client = undefined;
  responder = undefined;
  // Whatever happened in the test, no line it logged carries a card number or the password.
  const all = logLines.join('\n');
  for (const card of Object.values(CARDS)) expect(all).not.toContain(card);
  expect(all).not.toContain(PASSWORD);
  logLines = [];
});

function capture(): pino.Logger {
  return pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
}

async function start(options: ResponderOptions = {}, client_: Partial<Sip2ClientOptions> = {}): Promise<{ responder: Sip2Responder; client: Sip2Client }> {
  responder = await startSip2Responder({ patrons: PATRONS, password: PASSWORD, ...options });
  client = new Sip2Client({
    host: '127.0.0.1',
    port: responder.port,
    institutionId: 'TOWN',
    user: 'gate-sip',
    password: PASSWORD,
    locationCode: 'TOWN-ENTRANCE',
    message: 'patron-information',
    mapping,
    timeoutMs: 400,
    handshakeTimeoutMs: 1000,
    keepaliveMs: 0,
    reconnectMinMs: 50,
    reconnectMaxMs: 200,
    clock: { now: () => new Date(2026, 10, 23, 14, 0, 0) },
    logger: capture(),
    ...client_,
  });
  client.start();
  await until(() => client!.ready);
  return { responder, client };
}


describe('SIP2 client', () => {
  it('logs in with its user, password and location, then asks for the ACS status', async () => {
    const { responder } = await start();
    expect(responder.received.map((m) => m.code)).toEqual(['93', '99']);
    expect(responder.received[0]!.fields).toMatchObject({ CN: 'gate-sip', CO: PASSWORD, CP: 'TOWN-ENTRANCE' });
    expect(responder.received.every((m) => m.checksumOk)).toBe(true);
    expect(logLines.some((l) => l.includes('SIP2 connected'))).toBe(true);
  });

  it('finds a registered member, with expiry, birth date and registration from the patron information', async () => {
    const { client, responder } = await start();
    expect(await client.lookupPatron(CARDS.ada)).toEqual({
      expires: '2027-12-31',
      blocked: false,
      blockedUntil: null,
      openAccess: true,
      birthDate: '1980-05-01',
      adult: null,
      staff: false,
      groups: [],
      pinHash: null,
    });
    const request = responder.received.at(-1)!;
    expect(request.code).toBe('63');
    expect(request.fields).toMatchObject({ AO: 'TOWN', AA: CARDS.ada });
  });

  it('says "not found" for a card the LMS does not know, and reads blocked, lost, expired and staff patrons', async () => {
    const { client } = await start();
    expect(await client.lookupPatron(CARDS.stranger)).toBeUndefined();
    expect(await client.lookupPatron(CARDS.barred)).toMatchObject({ blocked: true });
    expect(await client.lookupPatron(CARDS.lost)).toMatchObject({ blocked: true, expires: null });
    expect(await client.lookupPatron(CARDS.lapsed)).toMatchObject({ blocked: false, expires: '2025-01-31' });
    expect(await client.lookupPatron(CARDS.staff)).toMatchObject({ staff: true, openAccess: false });
  });

  it('uses patron status (23/24) when configured, and does not mind the fields in another order', async () => {
    const { client, responder } = await start({ behaviour: { reverseFields: true } }, { message: 'patron-status', mapping: Sip2MappingSchema.parse({ openAccess: 'all' }) });
    expect(await client.lookupPatron(CARDS.barred)).toMatchObject({ blocked: true, openAccess: true });
    expect(await client.lookupPatron(CARDS.stranger)).toBeUndefined();
    expect(responder.received.filter((m) => m.code === '23')).toHaveLength(2);
  });

  it('numbers its messages 0–9 and round again, and every answer carries the same number', async () => {
    const { client, responder } = await start();
    for (let i = 0; i < 10; i++) await client.lookupPatron(CARDS.ada);
    expect(responder.received.map((m) => m.sequence)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
    expect(responder.received.every((m) => m.checksumOk)).toBe(true);
  });

  it('does not take an answer with another sequence number for its own: no answer, then a fresh connection', async () => {
    const { client, responder } = await start({ behaviour: { sequenceOffset: 1 } });
    const before = responder.connections;
    const started = performance.now();
    expect(await client.lookupPatron(CARDS.ada)).toBe('unavailable');
    expect(performance.now() - started).toBeGreaterThanOrEqual(390);
    responder.behaviour.sequenceOffset = 0;
    await until(() => client.ready && responder.connections > before);
    expect(await client.lookupPatron(CARDS.ada)).toMatchObject({ openAccess: true });
  });

  it('gives up at the deadline when the LMS is slow, and recovers when it is not', async () => {
    const { client, responder } = await start({ behaviour: { delayMs: 1500 } });
    const started = performance.now();
    expect(await client.lookupPatron(CARDS.ada)).toBe('unavailable');
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(390);
    expect(took).toBeLessThan(1000);
    responder.behaviour.delayMs = 0;
    await until(() => client.ready);
    expect(await client.lookupPatron(CARDS.ada)).toMatchObject({ openAccess: true });
  });

  it('asks for a resend (97) after a bad checksum and uses the good copy', async () => {
    const { client, responder } = await start();
    responder.behaviour.corruptChecksums = 1;
    expect(await client.lookupPatron(CARDS.barred)).toMatchObject({ blocked: true });
    expect(responder.received.slice(-2).map((m) => m.code)).toEqual(['63', '97']);
    expect(responder.received.at(-1)!.sequence).toBeUndefined();
  });

  it('treats a second bad checksum as no answer', async () => {
    const { client, responder } = await start();
    responder.behaviour.corruptChecksums = 2;
    expect(await client.lookupPatron(CARDS.ada)).toBe('unavailable');
    await until(() => client.ready);
    expect(await client.lookupPatron(CARDS.ada)).toMatchObject({ openAccess: true });
  });

  it('answers "unavailable" at once when the LMS drops the connection, and reconnects', async () => {
    // A deadline longer than the test may run: "unavailable" can only come from the dropped connection itself.
    const { client, responder } = await start({ behaviour: { dropOnPatronRequest: true } }, { timeoutMs: 600_000 });
    expect(await client.lookupPatron(CARDS.ada)).toBe('unavailable');
    responder.behaviour.dropOnPatronRequest = false;
    await until(() => client.ready && responder.connections === 2);
    expect(await client.lookupPatron(CARDS.ada)).toMatchObject({ openAccess: true });
  });

  it('reconnects and logs in again after the LMS restarts, answering "unavailable" while it is away', async () => {
    // A deadline longer than the test may run: "unavailable" while the LMS is away can only be the client's own answer.
    const { client, responder } = await start({}, { timeoutMs: 600_000 });
    await responder.stop();
    await until(() => !client.ready);
    expect(await client.lookupPatron(CARDS.ada)).toBe('unavailable');
    await new Promise((resolve) => setTimeout(resolve, 300));
    await responder.restart();
    await until(() => client.ready);
    expect(await client.lookupPatron(CARDS.ada)).toMatchObject({ openAccess: true });
    const logins = responder.received.filter((m) => m.code === '93');
    expect(logins).toHaveLength(2);
    expect(logLines.some((l) => l.includes('SIP2 cannot connect'))).toBe(true);
  });

  it('does not come up with a refused login, and says why without the password', async () => {
    responder = await startSip2Responder({ patrons: PATRONS, password: 'another-password' });
    client = new Sip2Client({
      host: '127.0.0.1',
      port: responder.port,
      institutionId: 'TOWN',
      user: 'gate-sip',
      password: PASSWORD,
      message: 'patron-information',
      mapping,
      timeoutMs: 400,
      keepaliveMs: 0,
      reconnectMinMs: 50,
      reconnectMaxMs: 100,
      clock: { now: () => new Date(2026, 10, 23, 14) },
      logger: capture(),
    });
    client.start();
    await until(() => responder!.received.filter((m) => m.code === '93').length >= 2);
    expect(client.ready).toBe(false);
    expect(await client.lookupPatron(CARDS.ada)).toBe('unavailable');
    expect(logLines.some((l) => l.includes('login refused'))).toBe(true);
  });

  it('does not come up while the ACS reports itself offline', async () => {
    responder = await startSip2Responder({ patrons: PATRONS, password: PASSWORD, behaviour: { online: false } });
    client = new Sip2Client({
      host: '127.0.0.1',
      port: responder.port,
      institutionId: 'TOWN',
      user: 'gate-sip',
      password: PASSWORD,
      message: 'patron-information',
      mapping,
      timeoutMs: 400,
      keepaliveMs: 0,
      reconnectMinMs: 50,
      reconnectMaxMs: 100,
      clock: { now: () => new Date(2026, 10, 23, 14) },
      logger: capture(),
    });
    client.start();
    await until(() => responder!.received.filter((m) => m.code === '99').length >= 2);
    expect(client.ready).toBe(false);
    responder.behaviour.online = true;
    await until(() => client!.ready);
    expect(await client.lookupPatron(CARDS.ada)).toMatchObject({ openAccess: true });
  });

  it('keeps the link alive with SC status when idle', async () => {
    const { client, responder } = await start({}, { keepaliveMs: 100 });
    await until(() => responder.received.filter((m) => m.code === '99').length >= 3);
    expect(client.ready).toBe(true);
    expect(responder.connections).toBe(1);
  });

  it('runs one request at a time: look-ups made together are answered in turn, each its own', async () => {
    const { client, responder } = await start({ behaviour: { delayMs: 50 } }, { timeoutMs: 1000 });
    const answers = await Promise.all([client.lookupPatron(CARDS.ada), client.lookupPatron(CARDS.barred), client.lookupPatron(CARDS.stranger)]);
    expect(answers[0]).toMatchObject({ blocked: false });
    expect(answers[1]).toMatchObject({ blocked: true });
    expect(answers[2]).toBeUndefined();
    expect(responder.received.filter((m) => m.code === '63').map((m) => m.fields.AA)).toEqual([CARDS.ada, CARDS.barred, CARDS.stranger]);
  });

  it('speaks TLS to an ACS behind a certificate it is told to trust', async () => {
    const dir = new URL('../unit/sip2/fixtures/', import.meta.url);
    const cert = readFileSync(new URL('acs-cert.pem', dir));
    const key = readFileSync(new URL('acs-key.pem', dir));
    const { client } = await start({ tls: { key, cert } }, { tls: { ca: cert } });
    expect(await client.lookupPatron(CARDS.ada)).toMatchObject({ openAccess: true });
  });

  it('refuses an ACS whose certificate it does not trust', async () => {
    const dir = new URL('../unit/sip2/fixtures/', import.meta.url);
    responder = await startSip2Responder({ patrons: PATRONS, password: PASSWORD, tls: { key: readFileSync(new URL('acs-key.pem', dir)), cert: readFileSync(new URL('acs-cert.pem', dir)) } });
    client = new Sip2Client({
      host: '127.0.0.1',
      port: responder.port,
      tls: {},
      institutionId: 'TOWN',
      user: 'gate-sip',
      password: PASSWORD,
      message: 'patron-information',
      mapping,
      timeoutMs: 400,
      keepaliveMs: 0,
      reconnectMinMs: 50,
      reconnectMaxMs: 100,
      clock: { now: () => new Date(2026, 10, 23, 14) },
      logger: capture(),
    });
    client.start();
    await until(() => logLines.some((l) => l.includes('SIP2 cannot connect')));
    expect(client.ready).toBe(false);
    expect(responder.received).toEqual([]);
  });

  it('never puts the card number in an error it throws', async () => {
    const { client } = await start();
    await expect(client.lookupPatron('2100|0999')).rejects.toThrow(/^patron identifier: /);
    await client.lookupPatron('2100|0999').catch((error: Error) => {
      expect(error.message).not.toContain('2100');
      expect(String(error.stack)).not.toContain('2100|0999');
    });
  });
});
