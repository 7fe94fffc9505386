// The webhook channel: one JSON POST per message, for Teams or Slack (through a workflow) or an alarm receiving
// centre's gateway. The receiver proves it came from us with the shared secret: `X-OAG-Signature: sha256=<hex>` is
// the HMAC-SHA256 of `<X-OAG-Timestamp>.<body>`, the timestamp in Unix seconds, so that a captured request cannot be
// replayed later (receivers refuse one more than 5 minutes off). `X-OAG-Delivery` is the same on every retry.
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { sendHttp } from './http-send.js';
import { checkHttpUrl } from './http-send.js';
import type { AddressCheck, Channel, Clock, OutgoingMessage } from './types.js';

export const WEBHOOK_TIMESTAMP_HEADER = 'x-oag-timestamp';
export const WEBHOOK_SIGNATURE_HEADER = 'x-oag-signature';
export const WEBHOOK_DELIVERY_HEADER = 'x-oag-delivery';
/** How far a receiver should accept the timestamp from its own clock. */
export const WEBHOOK_TOLERANCE_SECONDS = 300;

/**
 * The body, for receivers to parse. Additive within v1, like the MQTT contract: a receiver keeps names it does not
 * know. It never carries the acknowledgement link, as a webhook goes to a shared room, not to one person.
 */
export const WebhookPayloadSchema = z.object({
  v: z.literal(1),
  deliveryId: z.string(),
  incidentId: z.string(),
  step: z.int(),
  repeat: z.int(),
  /** critical, major, warning, minor; a receiver keeps one it does not know. */
  severity: z.string().nullable(),
  recipient: z.object({ id: z.string(), name: z.string().nullable() }),
  subject: z.string(),
  /** Slack and Teams show this field: it stands alone. */
  text: z.string(),
  details: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
  sentAt: z.iso.datetime(),
});
export type WebhookPayload = z.output<typeof WebhookPayloadSchema>;

export interface WebhookSettings {
  /** One receiver for every message (an alarm centre's gateway); without it each recipient's address is its URL. */
  url: string | undefined;
  secret: string;
  timeoutMs: number;
}

export class WebhookChannel implements Channel {
  readonly kind = 'webhook';

  constructor(
    readonly name: string,
    private readonly settings: WebhookSettings,
    private readonly clock: Clock,
  ) {}

  checkAddress(address: string): AddressCheck {
    // With a URL of its own the channel ignores the address; otherwise the address is where the POST goes.
    if (this.settings.url !== undefined) return address.length <= 2048 ? { ok: true, address } : { ok: false, error: 'must be at most 2048 characters' };
    const problem = checkHttpUrl(address);
    return problem === null ? { ok: true, address } : { ok: false, error: problem };
  }

  async send(message: OutgoingMessage): Promise<void> {
    const now = this.clock.now();
    const payload: WebhookPayload = {
      v: 1,
      deliveryId: message.deliveryId,
      incidentId: message.incidentId,
      step: message.step,
      repeat: message.repeat,
      severity: message.severity ?? null,
      recipient: { id: message.recipient.id, name: message.recipient.name ?? null },
      subject: message.subject,
      text: message.text,
      details: { ...message.details },
      sentAt: now.toISOString(),
    };
    const body = JSON.stringify(payload);
    const timestamp = String(Math.floor(now.getTime() / 1000));
    const signature = createHmac('sha256', this.settings.secret).update(`${timestamp}.${body}`).digest('hex');
    await sendHttp({
      channel: this.name,
      url: this.settings.url ?? message.recipient.address,
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'oag-central-alerts/1',
        [WEBHOOK_TIMESTAMP_HEADER]: timestamp,
        [WEBHOOK_SIGNATURE_HEADER]: `sha256=${signature}`,
        [WEBHOOK_DELIVERY_HEADER]: message.deliveryId,
      },
      body,
      timeoutMs: this.settings.timeoutMs,
      now: () => this.clock.now(),
    });
  }

  async close(): Promise<void> {}
}
