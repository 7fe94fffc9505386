// What the uplink needs from the gateway, as small interfaces: the gateway core implements them, tests fake them.
import type { Logger } from 'pino';
import type { Command, CommandReply, GatewayState } from '../../policies/contract/index.js';
import type { UplinkConfig } from './config.js';

export { UplinkConfigSchema } from './config.js';
export type { UplinkConfig, UplinkConfigInput } from './config.js';

/** One row of the durable outbox: `payload` is already the contract event (the `events` message). */
export interface OutboxRow {
  id: string;
  at: string;
  type: string;
  payload: unknown;
}

export interface UplinkOutbox {
  /** The oldest events not yet acknowledged by the broker, oldest first, at most `limit`. */
  unpublished(limit: number): OutboxRow[];
  /** The broker acknowledged these (PUBACK). Must be idempotent: a resend after an outage may be acked twice. */
  markPublished(ids: string[]): void;
}

export interface UplinkState {
  /** The contract state now (the uplink fills in `uplink` itself). */
  current(): GatewayState;
  /** Called after anything in the state changed; returns the unsubscribe function. */
  onChange(listener: () => void): () => void;
}

export type CommandResult = { ok: true } | { ok: false; error: string };

export interface UplinkCommands {
  /** Run a validated, fresh command; `actor` is `central:{the command's actor}`. */
  execute(cmd: Command, actor: string): Promise<CommandResult>;
}

export interface UplinkPolicy {
  /**
   * A policy document from central (already JSON-decoded, or the raw text when it was not JSON). The gateway
   * validates it, applies it atomically, and reports a refusal in its state and events.
   */
  offer(doc: unknown, source: 'central'): { ok: true; version: number } | { ok: false; errors: string[] };
}

/** The member-list sync (gateway/members/sync.ts), as the uplink sees it. */
export interface UplinkMembers {
  /** A message on a member-list topic: the retained announcement, or a chunk / refusal for this site. */
  receive(kind: 'announcement' | 'transfer', payload: Buffer): void;
  /** The link came up, with a way to publish on this site's request topic (false: not connected), or went down. */
  link(send: ((payload: Buffer) => boolean) | null): void;
}

export interface UplinkDeps {
  config: UplinkConfig;
  site: string;
  outbox: UplinkOutbox;
  state: UplinkState;
  commands: UplinkCommands;
  policy: UplinkPolicy;
  /** Member lists from central; without it the gateway does not subscribe to them. */
  members?: UplinkMembers | undefined;
  /**
   * Desk changes (member-desk.ts): the branch's deployment key id, which every change carries. Without it the
   * gateway neither sends them nor subscribes to central's replies.
   */
  desk?: { keyId: string; replyTimeoutMs?: number | undefined } | undefined;
  clock: { now(): Date };
  logger: Logger;
}

export type { Command, CommandReply, GatewayState };
