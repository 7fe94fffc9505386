import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  CONTRACT_MESSAGES,
  MAX_CHUNK_ENTRIES,
  MAX_PAYLOAD_BYTES,
  parseMessage,
  PolicyMessageSchema,
} from '../../../policies/contract/index.js';
import { parseDocumentText } from '../../../policies/index.js';

const town = parseDocumentText(readFileSync(new URL('../../../policies/examples/town.yaml', import.meta.url)), 'town.yaml');
if (!town.ok) throw new Error(town.errors.join('\n'));
const policyJson = JSON.stringify(town.value);

afterEach(() => vi.restoreAllMocks());

/** The schema a reader parses a kind with, as the contract lists it. */
const readerSchema = (name: string) => CONTRACT_MESSAGES.find((m) => m.name === name)!.schema;

describe('MQTT payload limits (parseMessage)', () => {
  it('accepts a policy payload, and refuses a 10 MB one before parsing it', () => {
    expect(parseMessage(PolicyMessageSchema, Buffer.from(policyJson)).ok).toBe(true);
    const huge = Buffer.from(JSON.stringify({ ...(town.value as object), name: 'x'.repeat(10 * 1024 * 1024) }));
    const parse = vi.spyOn(JSON, 'parse');
    const r = parseMessage(PolicyMessageSchema, huge);
    expect(r).toEqual({ ok: false, errors: [`(root): too large (${huge.length.toLocaleString('en-GB')} bytes; the limit is 256 KiB)`] });
    expect(parse).not.toHaveBeenCalled();
  });

  it('holds a command to 16 KiB', () => {
    const r = parseMessage(readerSchema('command'), Buffer.from(JSON.stringify({ command: 'announce', text: 'y'.repeat(20_000) })));
    expect(r).toEqual({ ok: false, errors: ['(root): too large (20,032 bytes; the limit is 16 KiB)'] });
  });

  it('takes a limit from the caller, and applies it to text payloads too', () => {
    expect(parseMessage(PolicyMessageSchema, policyJson, { maxBytes: 100 })).toMatchObject({ ok: false, errors: [expect.stringMatching(/^\(root\): too large .*the limit is 100 bytes\)$/)] });
  });

  it('refuses bytes that are not UTF-8 with the offset, instead of reading U+FFFD into the policy', () => {
    const bytes = Buffer.from(policyJson);
    const at = bytes.indexOf('Town Central');
    bytes[at + 4] = 0xe9;
    expect(parseMessage(PolicyMessageSchema, bytes)).toEqual({ ok: false, errors: [`(root): not valid UTF-8 at byte ${at + 4} (line 1)`] });
  });

  it('has a limit for every message of the contract, and a full member chunk fits its own', () => {
    for (const m of CONTRACT_MESSAGES) expect(MAX_PAYLOAD_BYTES[m.kind], m.name).toBeGreaterThan(0);
    // The largest chunk the schema admits: every entry at its 1,024-character maximum, tabs escaped by JSON.
    const entry = `${'A'.repeat(43)}${'\t'.repeat(9)}${'g'.repeat(1024 - 52)}`;
    const chunk = JSON.stringify({ type: 'chunk', transfer: '2f1c7a52-5b7e-4c0b-9b7a-3a4f6d1e9c21', version: 1, keyId: '0123456789abcdef', kind: 'snapshot', base: null, count: MAX_CHUNK_ENTRIES, hash: 'a'.repeat(64), index: 0, total: 1, chunkHash: 'b'.repeat(64), entries: Array(MAX_CHUNK_ENTRIES).fill(entry) });
    expect(Buffer.byteLength(chunk)).toBeLessThanOrEqual(MAX_PAYLOAD_BYTES['members/chunk']);
  });
});
