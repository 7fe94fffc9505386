// The alert channels central pages people through (e-mail over SMTP, a signed webhook, an HTTP SMS provider) and
// the outbox's retry policy: one zod schema, so a mistake is refused at start with the field named, not found at
// 21:00 when the first alarm cannot be sent. Secrets (SMTP password, webhook secret, SMS token) are never in this
// file: it names files, read bounded when the channels are built (channels/create.ts).
import { resolve } from 'node:path';
import { z } from 'zod';
import { formatIssues, plainErrors } from '../../policies/errors.js';
import { checkHttpUrl } from './channels/http-send.js';

/** `mail`, `teams`, `arc-gateway`: what rules and the outbox call a channel. */
export const ChannelNameSchema = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,39}$/, { error: 'must be lower-case letters, digits and dashes, starting with a letter (at most 40)' });

const path = z.string().min(1).max(4096);
// eslint-disable-next-line no-control-regex
const oneLine = (max: number) => z.string().min(1).max(max).regex(/^[^\u0000-\u001f\u007f]*$/, { error: 'must be one line of text' });
const timeoutMs = z.int().min(100).max(120_000);

function checkUrl(ctx: z.core.ParsePayload<string>, withPlaceholders: boolean): void {
  const problem = checkHttpUrl(withPlaceholders ? ctx.value.replace(/\{(to|text)\}/g, 'x') : ctx.value);
  if (problem !== null) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
}

export const EmailChannelConfigSchema = z
  .strictObject({
    type: z.literal('email'),
    /** The council's relay or a mail provider. */
    host: z.string().regex(/^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?$|^\[?[0-9a-fA-F:.]+\]?$/, {
      error: 'must be a host name or an IP address',
    }),
    /** `tls`: TLS from the first byte (port 465); `starttls`: plain greeting, then STARTTLS, refused if not offered. */
    security: z.enum(['tls', 'starttls']).default('starttls'),
    /** 465 for `tls`, 587 for `starttls` when left out. */
    port: z.int().min(1).max(65_535).optional(),
    user: oneLine(256).optional(),
    /** The SMTP password, alone in a file (a trailing newline is ignored). */
    passwordFile: path.optional(),
    /** PEM file of the CA that signed the server's certificate, when it is not a public one. */
    caFile: path.optional(),
    from: z.email({ error: 'must be an e-mail address' }).max(254),
    fromName: oneLine(100).optional(),
    timeoutMs: timeoutMs.default(15_000),
    /** SMTP connections kept open: a burst of incidents goes out in parallel on them. */
    maxConnections: z.int().min(1).max(20).default(4),
  })
  .check((ctx) => {
    if ((ctx.value.user === undefined) !== (ctx.value.passwordFile === undefined)) {
      ctx.issues.push({ code: 'custom', path: ['passwordFile'], message: 'user and passwordFile go together', input: ctx.value.passwordFile });
    }
  });

export const WebhookChannelConfigSchema = z
  .strictObject({
    type: z.literal('webhook'),
    /**
     * One receiver for every message (an alarm receiving centre's gateway). Without url and urlFile, each contact's
     * `webhook` address in the rules is where its messages go, all signed with this channel's secret.
     */
    url: z.string().max(2048).check((ctx) => checkUrl(ctx, false)).optional(),
    /** The same, for a URL that is itself a secret (Slack, Teams): the URL alone in a file. */
    urlFile: path.optional(),
    /** HMAC-SHA256 key for `X-OAG-Signature`, alone in a file: at least 16 characters. */
    secretFile: path,
    timeoutMs: timeoutMs.default(10_000),
  })
  .check((ctx) => {
    if (ctx.value.url !== undefined && ctx.value.urlFile !== undefined) {
      ctx.issues.push({ code: 'custom', path: ['urlFile'], message: 'give url or urlFile, not both', input: ctx.value.urlFile });
    }
  });

const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/;
const FORBIDDEN_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'host', 'content-length', 'transfer-encoding']);

const SmsAuthSchema = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ type: z.literal('bearer'), tokenFile: path }),
    z.strictObject({ type: z.literal('basic'), user: oneLine(256), passwordFile: path }),
  ],
  { error: (issue) => (issue.code === 'invalid_union' ? 'must be one of "bearer", "basic"' : undefined) },
);

export const SmsChannelConfigSchema = z
  .strictObject({
    type: z.literal('sms'),
    /** The provider's endpoint; `{to}` and `{text}` in it are filled in percent-encoded. */
    url: z.string().max(2048).check((ctx) => checkUrl(ctx, true)),
    method: z.enum(['POST', 'PUT', 'GET']).default('POST'),
    /** How `body` is written and how `{to}` and `{text}` in it are escaped. */
    encoding: z.enum(['json', 'form']).default('json'),
    /** e.g. `{"to":"{to}","message":"{text}"}` or `To={to}&Body={text}`. */
    body: z.string().min(1).max(4096).optional(),
    headers: z
      .record(z.string().regex(HEADER_NAME), oneLine(1024), {
        error: (issue) => (issue.code === 'invalid_key' ? 'a header name must be a token (letters, digits, dashes)' : undefined),
      })
      .default({}),
    auth: SmsAuthSchema.optional(),
    timeoutMs: timeoutMs.default(10_000),
    /** The whole SMS, link included: the text is shortened to fit, the link never. */
    maxLength: z.int().min(70).max(1600).default(480),
  })
  .check((ctx) => {
    const sms = ctx.value;
    const issue = (path: PropertyKey[], message: string): void => {
      ctx.issues.push({ code: 'custom', path, message, input: undefined });
    };
    for (const name of Object.keys(sms.headers)) {
      if (FORBIDDEN_HEADERS.has(name.toLowerCase())) {
        issue(['headers', name], name.toLowerCase().includes('auth') || name.toLowerCase() === 'cookie' ? 'credentials go in auth (read from a file), not in the config' : 'is set by the channel');
      }
    }
    if (sms.method === 'GET' && sms.body !== undefined) issue(['body'], 'a GET request has no body: put {to} and {text} in url');
    if (sms.method !== 'GET' && sms.body === undefined) issue(['body'], `required for ${sms.method}`);
    const both = `${sms.url}\n${sms.body ?? ''}`;
    for (const placeholder of ['{to}', '{text}']) {
      if (!both.includes(placeholder)) issue([sms.body === undefined ? 'url' : 'body'], `must contain ${placeholder}`);
    }
    if (sms.body !== undefined && sms.encoding === 'json') {
      const sample = sms.body.replaceAll('{to}', '+440000000000').replaceAll('{text}', 'a \\"b\\"\\n');
      try {
        JSON.parse(sample);
      } catch (error) {
        issue(['body'], `is not JSON once {to} and {text} are filled in (${(error as Error).message}); write them inside quotes: "{text}"`);
      }
    }
  });

export const ChannelConfigSchema = z.discriminatedUnion('type', [EmailChannelConfigSchema, WebhookChannelConfigSchema, SmsChannelConfigSchema], {
  error: (issue) => (issue.code === 'invalid_union' ? 'must be one of "email", "webhook", "sms"' : undefined),
});

/** How hard the outbox tries: exponential backoff with jitter, capped, and when it gives up. */
export const OutboxConfigSchema = z
  .strictObject({
    /** Messages in flight at once, all channels together. */
    concurrency: z.int().min(1).max(64).default(16),
    /** …and on one channel, so a webhook that hangs cannot hold up the e-mail. */
    channelConcurrency: z.int().min(1).max(64).default(8),
    /** The wait after the first failed attempt; it doubles with each one. */
    baseDelayMs: z.int().min(100).max(600_000).default(5_000),
    maxDelayMs: z.int().min(100).max(3_600_000).default(300_000),
    /** Each wait is shortened by up to this fraction at random, so retries after an outage do not all land at once. */
    jitter: z.number().min(0).max(1).default(0.5),
    /** Attempts before a message is marked failed. */
    maxAttempts: z.int().min(1).max(1000).default(15),
    /** A message not delivered this long after it was queued is marked failed: a page hours late misleads. */
    maxAgeMinutes: z.int().min(1).max(7 * 24 * 60).default(360),
    /** Consecutive channel failures before the channel is reported failing (onChannelHealth). */
    failuresBeforeUnhealthy: z.int().min(1).max(1000).default(3),
  })
  .check((ctx) => {
    if (ctx.value.maxDelayMs < ctx.value.baseDelayMs) {
      ctx.issues.push({ code: 'custom', path: ['maxDelayMs'], message: 'must be at least baseDelayMs', input: ctx.value.maxDelayMs });
    }
    if (ctx.value.channelConcurrency > ctx.value.concurrency) {
      ctx.issues.push({ code: 'custom', path: ['channelConcurrency'], message: 'must be at most concurrency', input: ctx.value.channelConcurrency });
    }
  });

export const AlertChannelsConfigSchema = z.strictObject({
  channels: z
    .record(ChannelNameSchema, ChannelConfigSchema, {
      error: (issue) => (issue.code === 'invalid_key' ? 'a channel name must be lower-case letters, digits and dashes, starting with a letter' : undefined),
    })
    .refine((channels) => Object.keys(channels).length <= 20, { error: 'at most 20 channels' })
    .default({}),
  outbox: OutboxConfigSchema.prefault({}),
});

export type EmailChannelConfig = z.output<typeof EmailChannelConfigSchema>;
export type WebhookChannelConfig = z.output<typeof WebhookChannelConfigSchema>;
export type SmsChannelConfig = z.output<typeof SmsChannelConfigSchema>;
export type ChannelConfig = z.output<typeof ChannelConfigSchema>;
export type OutboxConfig = z.output<typeof OutboxConfigSchema>;
export type AlertChannelsConfig = z.output<typeof AlertChannelsConfigSchema>;
export type AlertChannelsConfigInput = z.input<typeof AlertChannelsConfigSchema>;

export class AlertChannelsConfigError extends Error {
  constructor(readonly errors: string[]) {
    super(`alert channels: invalid configuration\n${errors.map((e) => `  ${e}`).join('\n')}`);
    this.name = 'AlertChannelsConfigError';
  }
}

/**
 * Validates the section; `at` is where it sits in the file (`alerts`), so that errors read
 * `alerts.channels.mail.port: must be at most 65535`.
 */
export function parseAlertChannelsConfig(input: unknown, at = ''): AlertChannelsConfig {
  const result = AlertChannelsConfigSchema.safeParse(input ?? {}, { error: plainErrors, reportInput: true });
  if (result.success) return result.data;
  throw new AlertChannelsConfigError(formatIssues(result.error).map((line) => (at === '' ? line : line.startsWith('(root)') ? `${at}${line.slice(6)}` : `${at}.${line}`)));
}

/** Files named in the section, taken from the config file's folder (as loadCentralConfig does for its own). */
export function resolveAlertChannelPaths(config: AlertChannelsConfig, baseDir: string): AlertChannelsConfig {
  const at = (p: string | undefined): string | undefined => (p === undefined ? undefined : resolve(baseDir, p));
  const channels: Record<string, ChannelConfig> = {};
  for (const [name, c] of Object.entries(config.channels)) {
    if (c.type === 'email') channels[name] = { ...c, passwordFile: at(c.passwordFile), caFile: at(c.caFile) };
    else if (c.type === 'webhook') channels[name] = { ...c, urlFile: at(c.urlFile), secretFile: resolve(baseDir, c.secretFile) };
    else {
      const auth = c.auth === undefined ? undefined : c.auth.type === 'bearer' ? { ...c.auth, tokenFile: resolve(baseDir, c.auth.tokenFile) } : { ...c.auth, passwordFile: resolve(baseDir, c.auth.passwordFile) };
      channels[name] = { ...c, auth };
    }
  }
  return { ...config, channels };
}
