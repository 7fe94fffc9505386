// The outbox joined to the incident side, on the contract in central/alerts/types.ts: the escalation scheduler's
// hand-over writes the rows `sink` makes in its own transaction; links are issued by the links module just before each e-mail or SMS
// goes; deliveries, give-ups and failing channels are reported back to the incidents; and what is still pending for
// an incident once it is acknowledged or cleared is not sent.
//
// The rules name channels by type (`email`, `webhook`, `sms`); the config names channels freely, so each type maps
// to the channel named after it, or else to the only channel of that type.
import { MESSAGE_SEVERITIES, type Channel, type ChannelKind, type MessageSeverity } from './channels/types.js';
import { Outbox, type NotificationRequest, type OutboxOptions, type OutboxRow } from './outbox.js';
import type { AckLinkIssuer, DeliveryReports, NotificationRequest as PlannedRequest, NotificationSink } from './types.js';

/** What the outbox listens to on the incidents (Incidents is an EventEmitter of these). */
export interface IncidentChanges {
  on(event: 'change', listener: (change: { kind: string; incident: { id: number } }) => void): unknown;
  off(event: 'change', listener: (change: { kind: string; incident: { id: number } }) => void): unknown;
}

export interface IncidentOutboxOptions extends Omit<OutboxOptions, 'hooks' | 'links'> {
  /** Told of each delivery, give-up and failing or recovered channel (Incidents). */
  reports: DeliveryReports;
  /** Issues the personal link at send time (AckLinks). */
  links: AckLinkIssuer;
  /** Pending messages of an incident acknowledged or cleared are cancelled (Incidents). */
  changes?: IncidentChanges | undefined;
}

export interface IncidentOutbox {
  readonly outbox: Outbox;
  /** For `alerts.start(sink)`. */
  readonly sink: NotificationSink;
  /** Stops listening to the incidents and waits for the sends under way. */
  stop(): Promise<void>;
}

const DONE = new Set(['acknowledged', 'cleared', 'resolved']);

export function createIncidentOutbox(options: IncidentOutboxOptions): IncidentOutbox {
  const { reports, links, changes, ...outboxOptions } = options;
  const nameOf = channelNames(options.channels);
  const kindOf = (name: string): ChannelKind | undefined => options.channels.get(name)?.kind;
  const now = (): Date => options.clock.now();

  const planned = (row: OutboxRow): PlannedRequest | null => {
    const incidentId = Number(row.incidentId);
    const kind = kindOf(row.channel) ?? (row.channel as ChannelKind);
    if (!Number.isSafeInteger(incidentId)) return null;
    return {
      incidentId,
      step: row.step,
      repeat: row.repeat,
      recipient: { name: row.recipientId, channel: kind, address: row.address },
      subject: row.subject,
      text: row.text,
    };
  };

  const outbox = new Outbox({
    ...outboxOptions,
    hooks: {
      onDelivered: (row) => {
        const request = planned(row);
        if (request !== null) return reports.delivered(request, now());
      },
      onFailed: (row) => {
        const request = planned(row);
        if (request !== null) return reports.gaveUp(request, row.lastError ?? 'not delivered', now());
      },
      onChannelHealth: (name, ok, reason) => {
        const kind = kindOf(name);
        if (kind === undefined) return;
        return ok ? reports.channelRecovered(kind, now()) : reports.channelFailed(kind, reason, now());
      },
    },
    links: {
      linkFor: async (row, at) => {
        const request = planned(row);
        return request === null ? undefined : (await links.attach(request, at)).ackUrl;
      },
    },
  });

  const sink: NotificationSink = {
    rows(requests, _at, incidentSeverity) {
      return outbox.rowsFor(
        requests.map(
          (r): NotificationRequest => ({
            incidentId: String(r.incidentId),
            step: r.step,
            repeat: r.repeat,
            // A type with no channel configured: the row is recorded failed, naming it, and reported as a give-up.
            channel: nameOf.get(r.recipient.channel) ?? r.recipient.channel,
            recipient: { id: r.recipient.name, name: r.recipient.name, address: r.recipient.address },
            severity: severity(incidentSeverity),
            subject: r.subject,
            text: r.text,
          }),
        ),
      );
    },
    handed(rows, results) {
      return outbox.accepted(rows, results);
    },
  };

  const onChange = (change: { kind: string; incident: { id: number } }): void => {
    if (!DONE.has(change.kind)) return;
    outbox.cancel(String(change.incident.id), `not needed any more: the incident was ${change.kind}`).catch((error: unknown) => {
      options.logger.error({ incident: change.incident.id, err: (error as Error).message }, 'alert outbox: could not cancel what is pending for an incident');
    });
  };
  changes?.on('change', onChange);

  return {
    outbox,
    sink,
    async stop() {
      changes?.off('change', onChange);
      await outbox.stop();
    },
  };
}

function severity(value: string | undefined): MessageSeverity | undefined {
  return (MESSAGE_SEVERITIES as readonly string[]).includes(value ?? '') ? (value as MessageSeverity) : undefined;
}

/** Type → channel name: the one named after the type, else the only one of it. Several and none so named is an error. */
function channelNames(channels: ReadonlyMap<string, Channel>): Map<ChannelKind, string> {
  const out = new Map<ChannelKind, string>();
  const byKind = new Map<ChannelKind, string[]>();
  for (const c of channels.values()) byKind.set(c.kind, [...(byKind.get(c.kind) ?? []), c.name]);
  for (const [kind, names] of byKind) {
    if (names.includes(kind)) out.set(kind, kind);
    else if (names.length === 1) out.set(kind, names[0]!);
    else throw new Error(`alert channels: ${names.length} channels of type ${kind} (${names.join(', ')}): the rules use one; name it "${kind}"`);
  }
  return out;
}
