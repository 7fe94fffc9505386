import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../../../policies/contract/events.js';
import { ASYNCAPI_PATH, buildAsyncApi } from '../../../scripts/asyncapi.js';

describe('docs/asyncapi.yaml', () => {
  it('is what scripts/asyncapi.ts makes from the zod schemas (run `npx tsx scripts/asyncapi.ts` after changing the contract)', () => {
    expect(readFileSync(ASYNCAPI_PATH, 'utf8')).toBe(buildAsyncApi());
  });

  it('documents every topic with its QoS and retain flag, and the command reply', () => {
    const doc = parse(buildAsyncApi()) as {
      channels: Record<string, { address: string }>;
      operations: Record<string, { bindings: { mqtt: object }; reply?: { address: { location: string } } }>;
      components: { schemas: Record<string, { oneOf?: unknown[]; anyOf?: unknown[] }> };
      info: { description: string };
    };
    expect(Object.values(doc.channels).map((c) => c.address)).toEqual([
      'oa/v1/sites/{site}/availability',
      'oa/v1/sites/{site}/state',
      'oa/v1/sites/{site}/events',
      'oa/v1/sites/{site}/command',
      'oa/v1/sites/{site}/command/reply',
      'oa/v1/sites/{site}/policy',
      'oa/v1/members/current',
      'oa/v1/sites/{site}/members/request',
      'oa/v1/sites/{site}/members/chunk',
    ]);
    expect(doc.operations.receiveMembersAnnouncement?.bindings.mqtt).toMatchObject({ qos: 1, retain: true });
    expect(doc.operations.publishMembersRequest?.bindings.mqtt).toMatchObject({ qos: 1, retain: false });
    expect(doc.operations.publishState?.bindings.mqtt).toMatchObject({ qos: 1, retain: true });
    expect(doc.operations.publishEvent?.bindings.mqtt).toMatchObject({ qos: 1, retain: false });
    expect(doc.operations.receiveCommand?.reply?.address.location).toBe('$message.header#/responseTopic');
    expect(doc.components.schemas.Event?.oneOf ?? doc.components.schemas.Event?.anyOf).toHaveLength(EVENT_TYPES.length);
    expect(doc.info.description).toMatch(/Member lists \(docs\/members.md\)/);
  });
});
