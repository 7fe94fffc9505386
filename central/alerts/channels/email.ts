// The e-mail channel: nodemailer's pooled SMTP transport, always encrypted (TLS from the start, or STARTTLS that
// must be offered: never a silent fallback to clear text), with a login from a file and a timeout on every phase.
// SMTP's own answer decides what happens next: a 5xx about the recipient or the message is final for that message;
// anything about the server (refused connection, TLS, login, 4xx, timeout) is retried and counts against the channel.
import { createTransport, type Transporter } from 'nodemailer';
import { z } from 'zod';
import type { EmailChannelConfig } from '../channels-config.js';
import { DeliveryError, shortText, type AddressCheck, type Channel, type OutgoingMessage } from './types.js';

export interface EmailSecrets {
  password?: string | undefined;
  /** PEM of the CA for a server whose certificate is not from a public CA. */
  ca?: string | undefined;
}

const EmailAddress = z.email();

/** The e-mail body: the planner's text, then the personal link with a word on what it does. */
export function emailBody(message: Pick<OutgoingMessage, 'text' | 'ackLink'>): string {
  if (message.ackLink === undefined) return `${message.text}\n`;
  return `${message.text}\n\nAcknowledge (this link is yours alone and works once):\n${message.ackLink}\n`;
}

export class EmailChannel implements Channel {
  readonly kind = 'email';
  private readonly transport: Transporter;
  private readonly fromDomain: string;

  constructor(
    readonly name: string,
    private readonly config: EmailChannelConfig,
    secrets: EmailSecrets,
  ) {
    this.fromDomain = config.from.slice(config.from.lastIndexOf('@') + 1);
    const t = config.timeoutMs;
    this.transport = createTransport({
      pool: true,
      maxConnections: config.maxConnections,
      host: config.host,
      port: config.port ?? (config.security === 'tls' ? 465 : 587),
      secure: config.security === 'tls',
      requireTLS: config.security === 'starttls',
      auth: config.user === undefined ? undefined : { user: config.user, pass: secrets.password ?? '' },
      tls: { minVersion: 'TLSv1.2', ...(secrets.ca === undefined ? {} : { ca: secrets.ca }) },
      connectionTimeout: t,
      greetingTimeout: t,
      socketTimeout: t,
      dnsTimeout: t,
      // Messages are plain text built here: nothing in them may make nodemailer read a file or fetch a URL.
      disableFileAccess: true,
      disableUrlAccess: true,
      logger: false,
    });
  }

  checkAddress(address: string): AddressCheck {
    const trimmed = address.trim();
    return trimmed.length <= 254 && EmailAddress.safeParse(trimmed).success ? { ok: true, address: trimmed } : { ok: false, error: 'must be an e-mail address' };
  }

  async send(message: OutgoingMessage): Promise<void> {
    try {
      await this.transport.sendMail({
        from: this.config.fromName === undefined ? this.config.from : { name: this.config.fromName, address: this.config.from },
        to: message.recipient.name === undefined ? message.recipient.address : { name: message.recipient.name, address: message.recipient.address },
        subject: message.subject,
        text: emailBody(message),
        // The same on every retry: a mail client shows a message delivered twice (after a crash mid-send) once.
        messageId: `<${message.deliveryId}@${this.fromDomain}>`,
        priority: message.severity === 'critical' ? 'high' : 'normal',
        headers: {
          // RFC 3834: out-of-office replies must not answer an alarm.
          'Auto-Submitted': 'auto-generated',
          'X-OAG-Incident': message.incidentId,
          'X-OAG-Delivery': message.deliveryId,
        },
      });
    } catch (error) {
      throw smtpFailure(this.name, error);
    }
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}

interface SmtpError {
  code?: string;
  responseCode?: number;
  response?: string;
  command?: string;
  message?: string;
}

export function smtpFailure(channel: string, error: unknown): DeliveryError {
  const e = error as SmtpError;
  const said = shortText(e.response ?? e.message ?? String(error));
  const final = e.responseCode !== undefined && e.responseCode >= 500;
  switch (e.code) {
    case 'EENVELOPE':
      if (e.command !== undefined && /^MAIL\b/i.test(e.command)) {
        return new DeliveryError(channel, `the server refused the sender (from): ${said}`, { retryable: !final, scope: 'channel' });
      }
      return new DeliveryError(channel, `the server refused the recipient: ${said}`, { retryable: !final, scope: 'message' });
    case 'EMESSAGE':
      return new DeliveryError(channel, `the server refused the message: ${said}`, { retryable: !final, scope: 'message' });
    case 'EAUTH':
    case 'ENOAUTH':
      // Final for SMTP, but the same for every message: retried, and the channel reported failing, until fixed.
      return new DeliveryError(channel, `the server refused the login (check user and passwordFile): ${said}`, { retryable: true, scope: 'channel' });
    case 'ETLS':
      return new DeliveryError(channel, `no encrypted connection (starttls needs the server to offer STARTTLS; tls, its TLS port): ${said}`, {
        retryable: true,
        scope: 'channel',
      });
    default:
      return new DeliveryError(channel, `cannot deliver to the SMTP server: ${said}`, { retryable: true, scope: 'channel' });
  }
}
