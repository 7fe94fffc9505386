// What the alert pieces at central hand each other: the escalation scheduler (incidents, rules, rota) on one side,
// the durable outbox and its channels (e-mail, webhook, SMS) on the other. Kept small so either side can change
// inside without the other noticing.
import type { OutboxInsert } from './alerts-store.js';

export const CHANNELS = ['email', 'webhook', 'sms'] as const;
export type Channel = (typeof CHANNELS)[number];

/** One address of one contact (a person, or a webhook standing for a team or an alarm receiving centre). */
export interface Recipient {
  /** The contact's name in the rules; an acknowledgement by this recipient's link is `contact:<name>`. */
  name: string;
  channel: Channel;
  /** An e-mail address, an http(s) URL, or a phone number in E.164 (`+447700900123`). */
  address: string;
}

/**
 * "Notify this recipient over this channel about this incident." The scheduler hands each one to the outbox once:
 * the same (incidentId, step, repeat, recipient.channel, recipient.address) is never handed over twice
 * (`notificationKey`), so the outbox may use that key as its own once-only key.
 */
export interface NotificationRequest {
  incidentId: number;
  /** Escalation step of the rule that matched (0 = the first people told). */
  step: number;
  /** 0 for the step's first message, 1… for each reminder while nobody acknowledges. */
  repeat: number;
  recipient: Recipient;
  /** One line, at most 200 characters, no line breaks. */
  subject: string;
  /** Plain text, at most 2,000 characters; it does not contain the acknowledgement link. */
  text: string;
  /**
   * The recipient's one-time acknowledgement link. It is a secret, so the scheduler never sets it and the outbox
   * never stores or logs it: just before sending an e-mail or SMS the outbox calls `AckLinkIssuer.attach`, which
   * issues a fresh link (only its hash is kept) and returns the request with `ackUrl` set. A request stored before
   * a restart therefore still gets a working link when it is finally sent.
   */
  ackUrl?: string;
}

/** The once-only key of a request: incident, step, repeat and recipient. */
export function notificationKey(r: Pick<NotificationRequest, 'incidentId' | 'step' | 'repeat' | 'recipient'>): string {
  return `${r.incidentId}:${r.step}:${r.repeat}:${r.recipient.channel}:${r.recipient.address}`;
}

/**
 * Where the scheduler hands new requests: the durable outbox. `rows` turns them into the outbox's rows (checked,
 * nothing written), which the incidents' store writes in the same transaction as their record of the hand-over
 * (`Incidents.handOver`): a request is marked as handed over exactly when it is in the outbox (a throw rolls both
 * back, and the next tick tries again). `handed` is told once that committed.
 */
export interface NotificationSink {
  /** `severity` is the incident's, so that critical alarms go first in a burst. */
  rows(requests: readonly NotificationRequest[], at: Date, severity: string | undefined): OutboxInsert[];
  handed(rows: readonly OutboxInsert[], results: ReadonlyArray<{ id: number; created: boolean }>, at: Date): Promise<void>;
}

/** Issues acknowledgement links at send time (`central/alerts/ack-links.ts`). */
export interface AckLinkIssuer {
  /** The request with `ackUrl` set for e-mail and SMS to a contact; unchanged for a webhook. */
  attach(request: NotificationRequest, at: Date): Promise<NotificationRequest>;
}

/**
 * What the outbox tells the incidents (`central/alerts/incidents.ts` implements it). A channel that fails is itself
 * an incident (`<channel>-failed`, at `(central)`), cleared when the channel delivers again.
 */
export interface DeliveryReports {
  /** The channel accepted the message (SMTP 250, a 2xx from the webhook or SMS provider). */
  delivered(request: NotificationRequest, at: Date): Promise<void>;
  /** This request will not be retried any more; `reason` names the channel's answer, never a secret. */
  gaveUp(request: NotificationRequest, reason: string, at: Date): Promise<void>;
  channelFailed(channel: Channel, reason: string, at: Date): Promise<void>;
  channelRecovered(channel: Channel, at: Date): Promise<void>;
}
