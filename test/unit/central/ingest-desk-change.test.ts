// Ingest's one case for a desk change (members/change): a valid change goes to the member service, a malformed one is
// refused and logged, and handed on for a `bad-request` answer only when it names an id the branch can match.
import { describe, expect, it } from 'vitest';
import { CONTRACT_MINOR } from '../../../policies/contract/index.js';
import type { DeskChangeArrival } from '../../../central/members/desk-changes.js';
import { centralParts } from './helpers.js';

const ID = '2f1c7a52-5b7e-4c0b-9b7a-3a4f6d1e9c21';
const change = { v: CONTRACT_MINOR, id: ID, at: '2025-06-02T09:30:00.000Z', keyId: '0123456789abcdef', actor: 'alice', member: 'A'.repeat(43), change: { kind: 'remove-pin' } };

function parts() {
  const p = centralParts();
  const arrivals: Array<{ site: string; arrival: DeskChangeArrival }> = [];
  p.bus.on('members-change', (a) => arrivals.push(a));
  return { ...p, arrivals };
}

describe('a desk change at ingest', () => {
  it('hands a valid change to the member service, for the site of its topic', async () => {
    const { publish, arrivals, ingest } = parts();
    await publish('town', 'membersChange', change);
    expect(arrivals).toEqual([{ site: 'town', arrival: { change: { ...change, change: { kind: 'remove-pin' } } } }]);
    expect(ingest.stats.rejected).toBe(0);
  });

  it('refuses a malformed change with what is wrong, and hands it on only with a readable id', async () => {
    const { publish, arrivals, ingest } = parts();
    await publish('town', 'membersChange', { ...change, member: '04A1B2C3', change: { kind: 'link-card', card: 'x' } });
    await publish('town', 'membersChange', { ...change, id: 'not-a-uuid' });
    await publish('town', 'membersChange', 'not json');
    await publish('town', 'membersChange', JSON.stringify({ ...change, actor: 'x'.repeat(5000) }));
    expect(ingest.stats.rejected).toBe(4);
    expect(arrivals).toEqual([{ site: 'town', arrival: { id: ID, errors: ['member: must be a card hash (43 base64url characters)', 'change.card: must be a card hash (43 base64url characters)'] } }]);
    expect(ingest.stats.lastRejections[0]!.errors[0]).toMatch(/^\(root\): too large/);
  });

  it("ignores central's own answers on the reply topic", async () => {
    const { publish, arrivals, ingest } = parts();
    await publish('town', 'membersChangeReply', { id: ID, result: 'done', message: 'PIN removed', version: 3 });
    expect(arrivals).toEqual([]);
    expect(ingest.stats).toMatchObject({ ignored: 1, rejected: 0 });
  });
});
