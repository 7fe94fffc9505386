import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ALARM_NAMES, CONTRACT_VERSION } from '../../../policies/contract/common.js';
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
      'oa/v1/sites/{site}/members/change',
      'oa/v1/sites/{site}/members/change/reply',
    ]);
    expect(doc.operations.publishMemberDeskChange?.bindings.mqtt).toMatchObject({ qos: 1, retain: false });
    expect(doc.operations.receiveMembersAnnouncement?.bindings.mqtt).toMatchObject({ qos: 1, retain: true });
    expect(doc.operations.publishMembersRequest?.bindings.mqtt).toMatchObject({ qos: 1, retain: false });
    expect(doc.operations.publishState?.bindings.mqtt).toMatchObject({ qos: 1, retain: true });
    expect(doc.operations.publishEvent?.bindings.mqtt).toMatchObject({ qos: 1, retain: false });
    expect(doc.operations.receiveCommand?.reply?.address.location).toBe('$message.header#/responseTopic');
    expect(doc.info.description).toMatch(/Member lists \(docs\/members.md\)/);
  });

  it('documents what a reader of v1 accepts: the version rules, any name in an open list, unknown fields and event types', () => {
    type Schema = { type?: string; oneOf?: Schema[]; anyOf?: Schema[]; enum?: string[]; pattern?: string; properties?: Record<string, Schema>; items?: Schema; additionalProperties?: unknown };
    const doc = parse(buildAsyncApi()) as { info: { version: string; description: string }; components: { schemas: Record<string, Schema> } };
    expect(doc.info.version).toBe(`${CONTRACT_VERSION}.0`);
    expect(doc.info.description).toMatch(/Within it changes are additive only/);
    expect(doc.info.description).toMatch(/`oa\/v2` topics/);
    expect(doc.info.description).toMatch(/ignores fields it does not know/);

    const state = doc.components.schemas.State!;
    expect(state.additionalProperties).toBeUndefined();
    expect(state.properties?.v).toMatchObject({ type: 'integer', default: 0 });
    expect(state.properties?.alarms?.items?.anyOf).toEqual([
      { type: 'string', enum: [...ALARM_NAMES] },
      { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$' },
    ]);

    // The known types one by one, then any other type, kept whole.
    const [known, other] = doc.components.schemas.Event!.anyOf!;
    expect(known?.oneOf).toHaveLength(EVENT_TYPES.length);
    expect(other?.properties?.type).toMatchObject({ type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$' });
    expect(other?.additionalProperties).toEqual({});
  });
});
