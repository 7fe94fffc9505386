// Builds the configured channels, reading every secret file first: all problems are reported together, each with
// its field and path (`channels.mail.passwordFile (/etc/oag/smtp): cannot read: ENOENT`), and no channel is built
// while any is wrong.
import type { AlertChannelsConfig } from '../channels-config.js';
import { AlertChannelsConfigError } from '../channels-config.js';
import { EmailChannel } from './email.js';
import { checkHttpUrl } from './http-send.js';
import { readSecretFile } from './secret-file.js';
import { SmsChannel } from './sms.js';
import type { Channel, Clock } from './types.js';
import { WebhookChannel } from './webhook.js';
import { readTextFile } from '../../../kit/read-bounded.js';

const MAX_CA_BYTES = 256 * 1024;
const MIN_WEBHOOK_SECRET = 16;

export interface AlertChannels {
  /** By name, as rules and the outbox call them. */
  readonly byName: ReadonlyMap<string, Channel>;
  close(): Promise<void>;
}

/** `at` is where the section sits in the config file, for the error messages (`alerts`). */
export function createAlertChannels(config: AlertChannelsConfig, deps: { clock: Clock }, at = ''): AlertChannels {
  const errors: string[] = [];
  const field = (name: string, key: string): string => `${at === '' ? '' : `${at}.`}channels.${name}.${key}`;
  const secret = (path: string, fieldName: string, minLength?: number): string => {
    const read = readSecretFile(path, fieldName, { minLength });
    if (read.ok) return read.value;
    errors.push(read.error);
    return '';
  };
  const builders: Array<() => Channel> = [];
  for (const [name, c] of Object.entries(config.channels)) {
    if (c.type === 'email') {
      const password = c.passwordFile === undefined ? undefined : secret(c.passwordFile, field(name, 'passwordFile'));
      let ca: string | undefined;
      if (c.caFile !== undefined) {
        const read = readTextFile(c.caFile, { what: `${field(name, 'caFile')} (${c.caFile})`, maxBytes: MAX_CA_BYTES });
        if (!read.ok) errors.push(read.error);
        else if (!read.text.includes('-----BEGIN CERTIFICATE-----')) errors.push(`${field(name, 'caFile')} (${c.caFile}): not a PEM certificate`);
        else ca = read.text;
      }
      builders.push(() => new EmailChannel(name, c, { password, ca }));
    } else if (c.type === 'webhook') {
      const key = secret(c.secretFile, field(name, 'secretFile'), MIN_WEBHOOK_SECRET);
      let url = c.url;
      if (c.urlFile !== undefined) {
        url = secret(c.urlFile, field(name, 'urlFile'));
        const problem = url === '' ? null : checkHttpUrl(url);
        if (problem !== null) errors.push(`${field(name, 'urlFile')} (${c.urlFile}): ${problem}`);
      }
      builders.push(() => new WebhookChannel(name, { url, secret: key, timeoutMs: c.timeoutMs }, deps.clock));
    } else {
      let authorization: string | undefined;
      if (c.auth?.type === 'bearer') authorization = `Bearer ${secret(c.auth.tokenFile, field(name, 'auth.tokenFile'))}`;
      if (c.auth?.type === 'basic') {
        const password = secret(c.auth.passwordFile, field(name, 'auth.passwordFile'));
        authorization = `Basic ${Buffer.from(`${c.auth.user}:${password}`).toString('base64')}`;
      }
      builders.push(
        () =>
          new SmsChannel(
            name,
            { url: c.url, method: c.method, encoding: c.encoding, body: c.body, headers: c.headers, authorization, timeoutMs: c.timeoutMs, maxLength: c.maxLength },
            deps.clock,
          ),
      );
    }
  }
  if (errors.length > 0) throw new AlertChannelsConfigError(errors);
  const byName = new Map<string, Channel>();
  for (const build of builders) {
    const channel = build();
    byName.set(channel.name, channel);
  }
  return {
    byName,
    async close() {
      await Promise.allSettled([...byName.values()].map((c) => c.close()));
    },
  };
}
