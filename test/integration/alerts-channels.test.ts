// The alert channels against real far ends on loopback: an SMTP server (smtp-server, STARTTLS, a login) that must
// receive the mail with its link, and an HTTP receiver that checks the webhook's signature as a receiver would and
// reads the SMS provider's filled-in template. Each failure must come back typed: retry or not, and why.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  AlertChannelsConfigError,
  parseAlertChannelsConfig,
  type AlertChannelsConfigInput,
} from '../../central/alerts/channels-config.js';
import { createAlertChannels, type AlertChannels } from '../../central/alerts/channels/create.js';
import { DeliveryError, type Channel, type OutgoingMessage } from '../../central/alerts/channels/types.js';
import { WebhookPayloadSchema } from '../../central/alerts/channels/webhook.js';
import { HttpSink, verifyOagSignature } from '../helpers/http-sink.js';
import { SmtpSink, writeTestCaFile } from '../helpers/smtp-sink.js';

const NOW = new Date('2026-03-14T21:05:00Z');
const clock = { now: () => NOW };
const WEBHOOK_SECRET = 'a-webhook-secret-of-some-length';
const ACK = 'https://central.example.org/ack/Zk3q9X2mPq7TtY1vW8sR4uN6bC0dE5fG';

let dir: string;
const built: AlertChannels[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'oag-alert-channels-'));
  writeFileSync(join(dir, 'smtp-password'), 'correct horse\n');
  writeFileSync(join(dir, 'webhook-secret'), `${WEBHOOK_SECRET}\n`);
  writeFileSync(join(dir, 'sms-token'), 'sms-token-123\n');
  writeFileSync(join(dir, 'sms-password'), 'p@ss:word\n');
});

afterEach(async () => {
  for (const c of built.splice(0)) await c.close();
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function channels(input: AlertChannelsConfigInput): AlertChannels {
  const c = createAlertChannels(parseAlertChannelsConfig(input, 'alerts'), { clock }, 'alerts');
  built.push(c);
  return c;
}

function one(input: AlertChannelsConfigInput['channels']): Channel {
  const c = channels({ channels: input });
  const first = [...c.byName.values()][0];
  if (first === undefined) throw new Error('no channel');
  return first;
}

function message(overrides: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return {
    deliveryId: '0123456789abcdef0123456789abcdef',
    incidentId: 'inc-01J9Z',
    step: 0,
    repeat: 0,
    recipient: { id: 'ops-anna', name: 'Anna Berg', address: 'anna@library.example.org' },
    severity: 'critical',
    subject: 'FIRE at Northfield library',
    text: 'The fire input is active at Northfield library since 21:04. The doors are released.',
    ackLink: ACK,
    details: { site: 'northfield', alarm: 'fire' },
    ...overrides,
  };
}

async function failure(send: Promise<void>): Promise<DeliveryError> {
  const error = await send.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DeliveryError);
  return error as DeliveryError;
}

describe('alert channels config', () => {
  it('names every wrong field, with where the section sits in the file', () => {
    let error: unknown;
    try {
      parseAlertChannelsConfig(
        {
          channels: {
            mail: { type: 'email', host: 'smtp.example.org', port: 70_000, from: 'alerts@example.org', user: 'oag' },
            pager: { type: 'pager' },
            teams: { type: 'webhook', url: 'http://hooks.example.org/x', secretFile: 'secret' },
            sms: { type: 'sms', url: 'https://sms.example.org/send', body: '{"to":"{to}"}', headers: { Authorization: 'Bearer abc' } },
            text: { type: 'sms', url: 'https://sms.example.org/send', body: '{"to":"{to}","message":{text}}' },
            Mail2: { type: 'email', host: 'smtp.example.org', from: 'alerts@example.org' },
          },
          outbox: { baseDelayMs: 10_000, maxDelayMs: 1_000 },
        },
        'alerts',
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AlertChannelsConfigError);
    const errors = (error as AlertChannelsConfigError).errors;
    expect(errors).toEqual(
      expect.arrayContaining([
        'alerts.channels.mail.port: must be at most 65535',
        'alerts.channels.mail.passwordFile: user and passwordFile go together',
        'alerts.channels.pager.type: must be one of "email", "webhook", "sms"',
        'alerts.channels.teams.url: must be an https:// URL (http:// only to this machine)',
        'alerts.channels.sms.headers.Authorization: credentials go in auth (read from a file), not in the config',
        'alerts.channels.sms.body: must contain {text}',
        'alerts.channels.Mail2: a channel name must be lower-case letters, digits and dashes, starting with a letter',
        'alerts.outbox.maxDelayMs: must be at least baseDelayMs',
      ]),
    );
    expect(errors.find((e) => e.startsWith('alerts.channels.text.body: is not JSON once {to} and {text} are filled in'))).toMatch(/write them inside quotes/);
  });

  it('refuses to build any channel while a secret file is missing or a webhook secret is short, naming field and path', () => {
    writeFileSync(join(dir, 'short-secret'), 'tooshort\n');
    const config = parseAlertChannelsConfig({
      channels: {
        mail: { type: 'email', host: '127.0.0.1', from: 'alerts@example.org', user: 'oag', passwordFile: join(dir, 'nope') },
        teams: { type: 'webhook', url: 'https://hooks.example.org/x', secretFile: join(dir, 'short-secret') },
      },
    });
    let error: unknown;
    try {
      createAlertChannels(config, { clock });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AlertChannelsConfigError);
    expect((error as AlertChannelsConfigError).errors).toEqual([
      `channels.mail.passwordFile (${join(dir, 'nope')}): cannot read: ENOENT`,
      `channels.teams.secretFile (${join(dir, 'short-secret')}): too short (at least 16 characters)`,
    ]);
    expect((error as Error).message).not.toContain('tooshort');
  });
});

describe('e-mail over SMTP', () => {
  let sink: SmtpSink;
  beforeAll(async () => {
    sink = await SmtpSink.start({ users: { oag: 'correct horse' } });
  });
  afterAll(() => sink.close());

  const mail = (port: number, overrides: Record<string, unknown> = {}): Channel =>
    one({
      mail: {
        type: 'email',
        host: '127.0.0.1',
        port,
        security: 'starttls',
        user: 'oag',
        passwordFile: join(dir, 'smtp-password'),
        caFile: writeTestCaFile(dir),
        from: 'alarms@library.example.org',
        fromName: 'Open Access alarms',
        timeoutMs: 5000,
        ...overrides,
      },
    });

  it('delivers over STARTTLS with the login from the file: recipient, subject, body and the personal link', async () => {
    const before = sink.messages.length;
    await mail(sink.port).send(message());
    const got = sink.messages[before];
    expect(got).toBeDefined();
    expect(got!.to).toEqual(['anna@library.example.org']);
    expect(got!.from).toBe('alarms@library.example.org');
    expect(got!.user).toBe('oag');
    expect(got!.encrypted).toBe(true);
    expect(got!.subject).toBe('FIRE at Northfield library');
    expect(got!.text).toContain('The fire input is active at Northfield library since 21:04. The doors are released.');
    expect(got!.text).toContain(`Acknowledge (this link is yours alone and works once):\n${ACK}`);
    expect(got!.headers.get('message-id')).toBe('<0123456789abcdef0123456789abcdef@library.example.org>');
    expect(got!.headers.get('auto-submitted')).toBe('auto-generated');
    expect(got!.headers.get('to')).toContain('Anna Berg');
  });

  it('will not send in clear when the server does not offer STARTTLS: retried, and the channel is at fault', async () => {
    const plain = await SmtpSink.start({ noStartTls: true });
    try {
      const error = await failure(mail(plain.port, { user: undefined, passwordFile: undefined }).send(message()));
      expect(error.retryable).toBe(true);
      expect(error.scope).toBe('channel');
      expect(error.reason).toMatch(/STARTTLS/);
      expect(plain.dataCommands).toBe(0);
    } finally {
      await plain.close();
    }
  });

  it('a refused login is retried and blamed on the channel, naming what to check', async () => {
    writeFileSync(join(dir, 'wrong-password'), 'battery staple\n');
    const error = await failure(mail(sink.port, { passwordFile: join(dir, 'wrong-password') }).send(message()));
    expect(error.retryable).toBe(true);
    expect(error.scope).toBe('channel');
    expect(error.reason).toMatch(/refused the login \(check user and passwordFile\).*535/);
  });

  it('a recipient the server refuses with 550 is final for that message, not the channel', async () => {
    sink.refuseRecipient('gone@library.example.org', 550);
    const error = await failure(mail(sink.port).send(message({ recipient: { id: 'gone', address: 'gone@library.example.org' } })));
    expect(error.retryable).toBe(false);
    expect(error.scope).toBe('message');
    expect(error.reason).toMatch(/refused the recipient: 550/);
  });

  it('a server that is down is retried, with the reason', async () => {
    const down = await SmtpSink.start();
    const port = down.port;
    await down.close();
    const error = await failure(mail(port, { user: undefined, passwordFile: undefined }).send(message()));
    expect(error.retryable).toBe(true);
    expect(error.scope).toBe('channel');
    expect(error.reason).toMatch(/ECONNREFUSED/);
  });

  it('refuses an address that is not one', () => {
    const channel = mail(sink.port);
    expect(channel.checkAddress('anna@library.example.org')).toEqual({ ok: true, address: 'anna@library.example.org' });
    expect(channel.checkAddress('anna at library')).toEqual({ ok: false, error: 'must be an e-mail address' });
  });
});

describe('webhook', () => {
  let sink: HttpSink;
  beforeAll(async () => {
    sink = await HttpSink.start();
  });
  afterAll(() => sink.close());

  const webhook = (url = sink.url('/hooks/oag'), timeoutMs = 5000): Channel =>
    one({ teams: { type: 'webhook', url, secretFile: join(dir, 'webhook-secret'), timeoutMs } });

  it('POSTs JSON signed over timestamp.body, which a receiver verifies with the shared secret; no personal link', async () => {
    const before = sink.requests.length;
    await webhook().send(message());
    const request = sink.requests[before]!;
    expect(request.method).toBe('POST');
    expect(request.path).toBe('/hooks/oag');
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['x-oag-timestamp']).toBe(String(NOW.getTime() / 1000));
    expect(verifyOagSignature(WEBHOOK_SECRET, request, NOW.getTime() / 1000)).toBeNull();
    expect(verifyOagSignature('another-secret-entirely', request, NOW.getTime() / 1000)).toBe('signature does not match');
    expect(request.headers['x-oag-delivery']).toBe('0123456789abcdef0123456789abcdef');
    const payload = WebhookPayloadSchema.parse(JSON.parse(request.body));
    expect(payload).toMatchObject({
      incidentId: 'inc-01J9Z',
      step: 0,
      severity: 'critical',
      recipient: { id: 'ops-anna', name: 'Anna Berg' },
      subject: 'FIRE at Northfield library',
      details: { site: 'northfield', alarm: 'fire' },
      sentAt: NOW.toISOString(),
    });
    expect(request.body).not.toContain('/ack/');
  });

  it('without a URL of its own, posts to each recipient\'s address, which must be https (http only to this machine)', async () => {
    const perRecipient = one({ hooks: { type: 'webhook', secretFile: join(dir, 'webhook-secret') } });
    expect(perRecipient.checkAddress('http://hooks.example.org/x')).toEqual({ ok: false, error: 'must be an https:// URL (http:// only to this machine)' });
    expect(perRecipient.checkAddress('https://hooks.example.org/x')).toEqual({ ok: true, address: 'https://hooks.example.org/x' });
    const before = sink.requests.length;
    await perRecipient.send(message({ recipient: { id: 'arc', address: sink.url('/arc/42') } }));
    expect(sink.requests[before]!.path).toBe('/arc/42');
    expect(verifyOagSignature(WEBHOOK_SECRET, sink.requests[before]!, NOW.getTime() / 1000)).toBeNull();
  });

  it.each([
    { status: 500, retryable: true },
    { status: 503, retryable: true },
    { status: 408, retryable: true },
    { status: 429, retryable: true },
    { status: 400, retryable: false },
    { status: 404, retryable: false },
    { status: 302, retryable: false },
  ])('an answer $status is retryable: $retryable, with the status and the body in the reason', async ({ status, retryable }) => {
    sink.answers.push({ status, body: `{"error":"answer ${status}"}`, headers: status === 302 ? { location: 'https://elsewhere.example.org/' } : {} });
    const error = await failure(webhook().send(message()));
    expect(error.retryable).toBe(retryable);
    expect(error.reason).toContain(`HTTP ${status}`);
    expect(error.reason).toContain(`{"error":"answer ${status}"}`);
  });

  it('takes Retry-After from a 429', async () => {
    sink.answers.push({ status: 429, headers: { 'retry-after': '120' } });
    const error = await failure(webhook().send(message()));
    expect(error.retryable).toBe(true);
    expect(error.retryAfterMs).toBe(120_000);
  });

  it('reads a huge error body only a few KB into the reason', async () => {
    sink.answers.push({ status: 400, body: Buffer.alloc(2 * 1024 * 1024, 'x') });
    const error = await failure(webhook().send(message()));
    expect(error.retryable).toBe(false);
    expect(error.reason.length).toBeLessThan(300);
  });

  it('a receiver that does not answer within the timeout is retried', async () => {
    sink.hold();
    try {
      const error = await failure(webhook(sink.url('/slow'), 200).send(message()));
      expect(error.retryable).toBe(true);
      expect(error.reason).toBe('no answer within 200 ms');
    } finally {
      sink.release();
    }
  });

  it('a receiver that is not there is retried', async () => {
    const gone = await HttpSink.start();
    const url = gone.url('/x');
    await gone.close();
    const error = await failure(webhook(url).send(message()));
    expect(error.retryable).toBe(true);
    expect(error.scope).toBe('channel');
    expect(error.reason).toMatch(/cannot reach the server: .*ECONNREFUSED/);
  });
});

describe('SMS through an HTTP provider', () => {
  let sink: HttpSink;
  beforeAll(async () => {
    sink = await HttpSink.start();
  });
  afterAll(() => sink.close());

  const tricky = 'Door "A" forced\nat Northfield – 21:04 {to}';

  it('fills a JSON template, escaping the text, with the bearer token from its file', async () => {
    const sms = one({
      sms: {
        type: 'sms',
        url: sink.url('/v1/messages'),
        body: '{"from":"OAG","to":"{to}","message":"{text}"}',
        auth: { type: 'bearer', tokenFile: join(dir, 'sms-token') },
        headers: { 'X-Account': 'council-17' },
      },
    });
    const address = sms.checkAddress('+44 7700 900123');
    expect(address).toEqual({ ok: true, address: '+447700900123' });
    const before = sink.requests.length;
    await sms.send(message({ recipient: { id: 'ops-anna', address: '+447700900123' }, text: tricky }));
    const request = sink.requests[before]!;
    expect(request.method).toBe('POST');
    expect(request.headers.authorization).toBe('Bearer sms-token-123');
    expect(request.headers['x-account']).toBe('council-17');
    expect(request.headers['content-type']).toBe('application/json');
    expect(JSON.parse(request.body)).toEqual({ from: 'OAG', to: '+447700900123', message: `FIRE at Northfield library\n${tricky}\n${ACK}` });
  });

  it('fills a form template with basic auth from its file', async () => {
    const sms = one({
      sms: {
        type: 'sms',
        url: sink.url('/send'),
        encoding: 'form',
        body: 'To={to}&Body={text}&From=OAG',
        auth: { type: 'basic', user: 'AC123', passwordFile: join(dir, 'sms-password') },
      },
    });
    const before = sink.requests.length;
    await sms.send(message({ recipient: { id: 'ops-anna', address: '+447700900123' }, text: tricky }));
    const request = sink.requests[before]!;
    expect(request.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(request.headers.authorization).toBe(`Basic ${Buffer.from('AC123:p@ss:word').toString('base64')}`);
    const form = new URLSearchParams(request.body);
    expect(form.get('To')).toBe('+447700900123');
    expect(form.get('Body')).toBe(`FIRE at Northfield library\n${tricky}\n${ACK}`);
    expect(form.get('From')).toBe('OAG');
  });

  it('fills placeholders in a GET URL', async () => {
    const sms = one({ sms: { type: 'sms', method: 'GET', url: sink.url('/send?to={to}&msg={text}') } });
    const before = sink.requests.length;
    await sms.send(message({ recipient: { id: 'ops-anna', address: '+447700900123' }, ackLink: undefined, text: 'a&b=c' }));
    const query = new URL(sink.requests[before]!.path, 'http://x').searchParams;
    expect(query.get('to')).toBe('+447700900123');
    expect(query.get('msg')).toBe('FIRE at Northfield library\na&b=c');
  });

  it('shortens the text to the configured length and never cuts the link', async () => {
    const sms = one({ sms: { type: 'sms', url: sink.url('/v1/messages'), body: '{"to":"{to}","message":"{text}"}', maxLength: 160 } });
    const before = sink.requests.length;
    await sms.send(message({ recipient: { id: 'ops-anna', address: '+447700900123' }, text: 'x'.repeat(400) }));
    const text = (JSON.parse(sink.requests[before]!.body) as { message: string }).message;
    expect(text).toHaveLength(160);
    expect(text.endsWith(`…\n${ACK}`)).toBe(true);
  });

  it('refuses a number that is not in international form', () => {
    const sms = one({ sms: { type: 'sms', url: sink.url('/x'), body: '{"to":"{to}","message":"{text}"}' } });
    expect(sms.checkAddress('07700 900123')).toEqual({ ok: false, error: 'must be a phone number in international form, e.g. +447700900123' });
  });

  it('a provider refusing with 400 is final, and its words are in the reason', async () => {
    const sms = one({ sms: { type: 'sms', url: sink.url('/v1/messages'), body: '{"to":"{to}","message":"{text}"}' } });
    sink.answers.push({ status: 400, body: '{"error":"insufficient credit"}' });
    const error = await failure(sms.send(message({ recipient: { id: 'ops-anna', address: '+447700900123' } })));
    expect(error.retryable).toBe(false);
    expect(error.reason).toBe('HTTP 400 Bad Request: {"error":"insufficient credit"}');
  });
});
