// The member-list messages of the MQTT contract: what each schema accepts, and what it refuses with the path named.
import { describe, expect, it } from 'vitest';
import {
  centralFilters,
  MAX_MEMBER_WINDOW,
  MembersAnnouncementSchema,
  membersCurrentTopic,
  MembersRequestSchema,
  MembersTransferSchema,
  parseMessage,
  parseTopic,
  topics,
} from '../../../policies/contract/index.js';
import { chunkHash } from '../../../policies/member-list.js';

const HASH = 'ab'.repeat(32);
const KEY_ID = '0123456789abcdef';
const AT = '2026-03-02T10:00:00.000Z';
const TRANSFER = '2f1c7a52-5b7e-4c0b-9b7a-3a4f6d1e9c21';

const announcement = { version: 12, count: 1000, hash: HASH, keyId: KEY_ID, at: AT, createdAt: AT, chunkSize: 5000, deltasFrom: 3 };
const request = { transfer: TRANSFER, at: AT, keyId: KEY_ID, version: 12, kind: 'auto', base: { version: 9, hash: HASH }, from: 0, count: 8 };
const entries = ['A'.repeat(43)];
const chunk = { type: 'chunk', transfer: TRANSFER, version: 12, keyId: KEY_ID, kind: 'delta', base: 9, count: 1000, hash: HASH, index: 0, total: 1, chunkHash: chunkHash(entries), entries };

const errors = (schema: Parameters<typeof parseMessage>[0], value: unknown): string[] => {
  const r = parseMessage(schema, JSON.stringify(value));
  return r.ok ? [] : r.errors;
};

describe('member-list topics', () => {
  it('keeps the pull inside the site tree and the announcement shared', () => {
    const t = topics('oa/v1', 'town');
    expect(t.membersRequest).toBe('oa/v1/sites/town/members/request');
    expect(t.membersChunk).toBe('oa/v1/sites/town/members/chunk');
    expect(membersCurrentTopic('oa/v1')).toBe('oa/v1/members/current');
    expect(parseTopic('oa/v1', t.membersRequest)).toEqual({ site: 'town', kind: 'members/request' });
    expect(parseTopic('oa/v1', 'oa/v1/members/current')).toBeNull();
  });

  it('has central take in requests but not its own chunks or commands', () => {
    const filters = centralFilters('oa/v1');
    expect(filters).toContain('oa/v1/sites/+/members/request');
    expect(filters).not.toContain('oa/v1/sites/+/members/chunk');
    expect(filters).not.toContain('oa/v1/sites/+/command');
    expect(filters).not.toContain('oa/v1/sites/+/#');
  });
});

describe('member-list messages', () => {
  it('accepts an announcement, and names what is wrong with a bad one', () => {
    expect(errors(MembersAnnouncementSchema, announcement)).toEqual([]);
    expect(errors(MembersAnnouncementSchema, { ...announcement, hash: 'xyz', keyId: 'ABCDEF0123456789' })).toEqual([
      'hash: must be a list hash (64 lower-case hex characters)',
      'keyId: must be a key id (16 lower-case hex characters)',
    ]);
    expect(errors(MembersAnnouncementSchema, { ...announcement, version: 0 })[0]).toMatch(/^version:/);
    expect(errors(MembersAnnouncementSchema, { ...announcement, extra: 1 })[0]).toMatch(/extra/);
  });

  it('accepts a request and caps its window', () => {
    expect(errors(MembersRequestSchema, request)).toEqual([]);
    expect(errors(MembersRequestSchema, { ...request, base: null, kind: 'snapshot' })).toEqual([]);
    expect(errors(MembersRequestSchema, { ...request, count: MAX_MEMBER_WINDOW + 1 })[0]).toMatch(/^count:/);
    expect(errors(MembersRequestSchema, { ...request, kind: 'everything' })[0]).toMatch(/^kind:/);
    expect(errors(MembersRequestSchema, { ...request, transfer: 'nope' })[0]).toBe('transfer: must be a UUID');
  });

  it('accepts a chunk and a refusal on the transfer topic', () => {
    expect(errors(MembersTransferSchema, chunk)).toEqual([]);
    expect(errors(MembersTransferSchema, { ...chunk, kind: 'snapshot', base: null })).toEqual([]);
    expect(errors(MembersTransferSchema, { type: 'refused', transfer: TRANSFER, reason: 'superseded', message: 'version 12 is superseded by 13', current: 13 })).toEqual([]);
  });

  it('refuses a chunk whose index, base or entries do not add up', () => {
    expect(errors(MembersTransferSchema, { ...chunk, index: 1 })).toEqual(['index: must be less than total']);
    expect(errors(MembersTransferSchema, { ...chunk, base: null })).toEqual(['base: required with a delta']);
    expect(errors(MembersTransferSchema, { ...chunk, kind: 'snapshot' })).toEqual(['base: only with a delta']);
    expect(errors(MembersTransferSchema, { ...chunk, entries: ['short'] })[0]).toMatch(/^entries\[0\]/);
    expect(errors(MembersTransferSchema, { ...chunk, chunkHash: 'x' })[0]).toMatch(/^chunkHash:/);
  });
});
