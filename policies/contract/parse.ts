import type { z } from 'zod';
import { validate } from '../errors.js';

export type ParseResult<T> = { ok: true; value: T } | { ok: false; errors: string[] };

/**
 * An MQTT payload → a contract message, or `path: reason` lines. Never throws: a broker delivers whatever anyone
 * with access published, and one bad message must not take a service down.
 */
export function parseMessage<S extends z.ZodType>(schema: S, payload: Buffer | Uint8Array | string): ParseResult<z.output<S>> {
  const text = typeof payload === 'string' ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8');
  if (text.length === 0) return { ok: false, errors: ['(root): empty payload'] };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, errors: [`(root): not JSON (${(err as Error).message})`] };
  }
  return validate(schema, json);
}

/** The JSON a message goes out as: the schema's output, so defaults are filled and nothing unknown leaks. */
export function encodeMessage<S extends z.ZodType>(schema: S, value: z.input<S>): Buffer {
  return Buffer.from(JSON.stringify(schema.parse(value)));
}
