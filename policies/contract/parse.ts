import type { z } from 'zod';
import { validate } from '../errors.js';
import { checkTextSize, decodeUtf8, MAX_POLICY_BYTES } from '../input-text.js';
import { MAX_CHUNK_ENTRIES } from './members.js';
import { CONTRACT_MESSAGES } from './messages.js';
import { verifyMessage, type CentralPublicKey } from './signing.js';
import type { SharedTopicKind, SiteTopicKind } from './topics.js';

export type ParseResult<T> = { ok: true; value: T } | { ok: false; errors: string[] };

const KiB = 1024;

/** An entry of a member chunk is at most 1,024 characters (members.ts); JSON adds its quotes, a comma, escaped tabs. */
const MAX_CHUNK_ENTRY_BYTES = 1024 + 16;

/**
 * The largest payload taken per topic kind, checked before the payload is decoded or parsed: anyone who may publish
 * on a topic could otherwise make every reader hold and parse megabytes. Each is well above what a valid message
 * of its kind can be; a member chunk is bounded by its schema (MAX_CHUNK_ENTRIES entries), about 20 MiB.
 */
export const MAX_PAYLOAD_BYTES: Readonly<Record<SiteTopicKind | SharedTopicKind, number>> = {
  availability: 4 * KiB,
  state: 64 * KiB,
  events: 64 * KiB,
  command: 16 * KiB,
  'command/reply': 16 * KiB,
  policy: MAX_POLICY_BYTES,
  'members/request': 4 * KiB,
  'members/change': 4 * KiB,
  'members/change/reply': 4 * KiB,
  'members/current': 4 * KiB,
  'members/chunk': MAX_CHUNK_ENTRIES * MAX_CHUNK_ENTRY_BYTES + 16 * KiB,
};

/** The largest payload of any kind; for a schema that is not one of the contract's messages, its limit. */
export const LARGEST_PAYLOAD_BYTES = Math.max(...Object.values(MAX_PAYLOAD_BYTES));

// The limit follows from the schema a reader parses with, so that every existing caller gets its kind's limit.
const LIMIT_BY_SCHEMA = new Map<z.ZodType, number>(CONTRACT_MESSAGES.map((m) => [m.schema, MAX_PAYLOAD_BYTES[m.kind]]));

/** The payload limit for `schema`: `options.maxBytes`, else its message kind's, else the largest. */
function limitFor(schema: z.ZodType, options: ParseOptions): number {
  return options.maxBytes ?? LIMIT_BY_SCHEMA.get(schema) ?? LARGEST_PAYLOAD_BYTES;
}

export interface ParseOptions {
  /** Default: MAX_PAYLOAD_BYTES of the message kind `schema` is the contract's schema for. */
  maxBytes?: number | undefined;
}

/**
 * An MQTT payload → a contract message, or `path: reason` lines. Never throws: a broker delivers whatever anyone
 * with access published, and one bad message must not take a service down. A payload over its kind's limit is
 * refused unread; bytes that are not UTF-8 are refused with the offset of the first bad one, not read as U+FFFD.
 */
export function parseMessage<S extends z.ZodType>(schema: S, payload: Buffer | Uint8Array | string, options: ParseOptions = {}): ParseResult<z.output<S>> {
  const json = readJson(payload, limitFor(schema, options));
  return json.ok ? validate(schema, json.value) : json;
}

/** A payload's JSON as it came (size and UTF-8 checked first), before any schema has dropped or filled a field. */
export function readJson(payload: Buffer | Uint8Array | string, maxBytes: number): ParseResult<unknown> {
  const limits = { what: '(root)', maxBytes };
  if (payload.length === 0) return { ok: false, errors: ['(root): empty payload'] };
  const decoded = typeof payload === 'string' ? checkTextSize(payload, limits) : decodeUtf8(payload, limits);
  if (!decoded.ok) return { ok: false, errors: [decoded.error] };
  try {
    return { ok: true, value: JSON.parse(decoded.text) as unknown };
  } catch (err) {
    return { ok: false, errors: [`(root): not JSON (${(err as Error).message})`] };
  }
}

/**
 * parseMessage for what central sends (1.5): the signature is checked on the JSON as it came, before the schema,
 * so nothing unsigned is even validated. A refusal for the signature is the one line `signature: <reason>`.
 */
export function parseSignedMessage<S extends z.ZodType>(
  schema: S,
  payload: Buffer | Uint8Array | string,
  signed: { topic: string; keys: readonly CentralPublicKey[] },
  options: ParseOptions = {},
): ParseResult<z.output<S>> & { signature?: 'refused' } {
  const json = readJson(payload, limitFor(schema, options));
  if (!json.ok) return json;
  const verified = verifyMessage(signed.keys, signed.topic, json.value);
  if (!verified.ok) return { ok: false, errors: [`signature: ${verified.reason}`], signature: 'refused' };
  return validate(schema, json.value);
}

/** The JSON a message goes out as: the schema's output, so defaults are filled and nothing unknown leaks. */
export function encodeMessage<S extends z.ZodType>(schema: S, value: z.input<S>): Buffer {
  return Buffer.from(JSON.stringify(schema.parse(value)));
}
