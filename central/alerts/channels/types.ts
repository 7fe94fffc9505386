// What every alert channel (e-mail, webhook, SMS) is to the outbox: something that sends one message to one
// recipient and either returns or says, with a typed error, whether trying again can help and why.
export type ChannelKind = 'email' | 'webhook' | 'sms';

/** The gateways' severities, and `warning` for an alarm central does not know (central/alerts/rules.ts). */
export const MESSAGE_SEVERITIES = ['critical', 'major', 'warning', 'minor'] as const;
export type MessageSeverity = (typeof MESSAGE_SEVERITIES)[number];

/** Central's clock (central/main.ts passes the same one everywhere). */
export interface Clock {
  now(): Date;
}

export interface Recipient {
  /** The contact's name in the rules (`Anna Berg`): the outbox delivers once per (incident, step, repeat, recipient, channel). */
  id: string;
  name?: string | undefined;
  /** An e-mail address, a phone number in international form, or a webhook's URL (unless the channel has its own). */
  address: string;
}

export interface OutgoingMessage {
  /**
   * Stable across retries and restarts (a hash of incident, step, recipient and channel), so a receiver can drop a
   * repeat: the outbox delivers at least once to the channel and records once.
   */
  deliveryId: string;
  incidentId: string;
  step: number;
  repeat: number;
  recipient: Recipient;
  severity?: MessageSeverity | undefined;
  subject: string;
  text: string;
  /** The recipient's one-time acknowledgement link. E-mail and SMS carry it; a webhook, being shared, never does. */
  ackLink?: string | undefined;
  /** Structured facts for machine receivers (site, alarm, raised at), sent by the webhook. */
  details?: Readonly<Record<string, string | number | boolean | null>> | undefined;
}

export type AddressCheck = { ok: true; address: string } | { ok: false; error: string };

export interface Channel {
  readonly name: string;
  readonly kind: ChannelKind;
  /** Checked at enqueue, so a bad address is refused at once instead of failing later: returns it normalised. */
  checkAddress(address: string): AddressCheck;
  /** Resolves once the far end has accepted the message; throws a DeliveryError otherwise. */
  send(message: OutgoingMessage): Promise<void>;
  close(): Promise<void>;
}

/**
 * Who is at fault: the channel (server down, refused login, TLS, 5xx) counts towards the channel's health; the
 * recipient or the message (a mailbox that does not exist) does not, as the channel works for everyone else.
 */
export type FailureScope = 'channel' | 'message';

export class DeliveryError extends Error {
  readonly retryable: boolean;
  readonly scope: FailureScope;
  /** What the far end asked for (HTTP Retry-After): the outbox waits at least this long. */
  readonly retryAfterMs: number | undefined;

  constructor(
    readonly channel: string,
    readonly reason: string,
    options: { retryable: boolean; scope: FailureScope; retryAfterMs?: number | undefined },
  ) {
    super(`${channel}: ${reason}`);
    this.name = 'DeliveryError';
    this.retryable = options.retryable;
    this.scope = options.scope;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** A far end's words, fit for a log line and a database column: no control characters, at most `max` characters. */
export function shortText(text: string, max = 200): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}
