// The SMS channel: any HTTP SMS provider, described in the config by a URL, a method and a body template with
// `{to}` and `{text}`, each filled in escaped for where it stands (JSON string, form field, URL). The text is cut to
// the configured length; the acknowledgement link is never cut, since half a link acknowledges nothing.
import { sendHttp } from './http-send.js';
import type { AddressCheck, Channel, Clock, OutgoingMessage } from './types.js';

export interface SmsSettings {
  url: string;
  method: 'POST' | 'PUT' | 'GET';
  encoding: 'json' | 'form';
  body?: string | undefined;
  headers: Record<string, string>;
  /** The whole Authorization header value, from the token or password file. */
  authorization?: string | undefined;
  timeoutMs: number;
  maxLength: number;
}

const E164 = /^\+[1-9]\d{6,14}$/;

/** `+44 7700 900123`, `+44 (0)7700-900123` are written as people write them; the provider gets `+447700900123`. */
export function normalisePhoneNumber(address: string): AddressCheck {
  const compact = address.replace(/\(0\)/g, '').replace(/[\s().-]/g, '');
  return E164.test(compact) ? { ok: true, address: compact } : { ok: false, error: 'must be a phone number in international form, e.g. +447700900123' };
}

/** Subject, then text, shortened with … to leave room for the whole link. */
export function composeSms(message: Pick<OutgoingMessage, 'subject' | 'text' | 'ackLink'>, maxLength: number): string {
  const link = message.ackLink === undefined ? '' : `\n${message.ackLink}`;
  const words = `${message.subject}\n${message.text}`;
  const room = maxLength - link.length;
  if (words.length <= room) return `${words}${link}`;
  return `${room > 1 ? `${words.slice(0, room - 1)}…` : ''}${link}`;
}

const jsonEscape = (value: string): string => JSON.stringify(value).slice(1, -1);

function fill(template: string, values: { to: string; text: string }, escape: (value: string) => string): string {
  // One pass, so a `{to}` inside the text is not filled in again.
  return template.replace(/\{(to|text)\}/g, (_, key: 'to' | 'text') => escape(values[key]));
}

export class SmsChannel implements Channel {
  readonly kind = 'sms';

  constructor(
    readonly name: string,
    private readonly settings: SmsSettings,
    private readonly clock: Clock,
  ) {}

  checkAddress(address: string): AddressCheck {
    return normalisePhoneNumber(address);
  }

  async send(message: OutgoingMessage): Promise<void> {
    const s = this.settings;
    const values = { to: message.recipient.address, text: composeSms(message, s.maxLength) };
    const headers: Record<string, string> = { 'user-agent': 'oag-central-alerts/1', ...s.headers };
    if (s.body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
      headers['content-type'] = s.encoding === 'json' ? 'application/json' : 'application/x-www-form-urlencoded';
    }
    if (s.authorization !== undefined) headers.authorization = s.authorization;
    await sendHttp({
      channel: this.name,
      url: fill(s.url, values, encodeURIComponent),
      method: s.method,
      headers,
      body: s.body === undefined ? undefined : fill(s.body, values, s.encoding === 'json' ? jsonEscape : encodeURIComponent),
      timeoutMs: s.timeoutMs,
      now: () => this.clock.now(),
    });
  }

  async close(): Promise<void> {}
}
