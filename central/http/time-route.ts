// GET /api/time: central's clock and the time zones its pages count days in. The pages take "now", "today", "this
// week" and their default periods from here (central/public/common.js `serverClock`), never from the browser: central's
// clock is the injected one (the demo's replayed day), and a branch's day is its own zone's.
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { PolicySchema } from '../../policies/schema.js';
import type { HistoryStore } from '../history/history-store.js';
import { docs } from './zod-route.js';

export const TimeSchema = z.object({
  /** Central's now (its injected clock). */
  now: z.string(),
  /** Central's configured zone: the figures' days, and a branch's when central does not know the branch's own. */
  timezone: z.string(),
  /** Each branch central knows, with the zone its days are counted in. */
  sites: z.record(z.string(), z.string()),
});

const PolicyZoneSchema = PolicySchema.shape.timezone;

/**
 * A branch's zone: the one in the policy central published for it (a policy that names none runs in the schema's
 * default), or `fallback` when central has published none and so cannot know what the branch's own file says.
 */
export async function siteTimezone(store: Pick<HistoryStore, 'policy'>, site: string, fallback: string): Promise<string> {
  const doc = (await store.policy(site))?.doc;
  if (typeof doc !== 'object' || doc === null) return fallback;
  const zone = PolicyZoneSchema.safeParse((doc as { timezone?: unknown }).timezone);
  return zone.success ? zone.data : fallback;
}

export function timeRoutes(deps: { store: Pick<HistoryStore, 'policy' | 'sites'>; clock: { now(): Date }; timezone: string }): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/time',
      {
        schema: docs({ summary: "Central's clock and each branch's time zone: what the pages count today and this week from", tags: ['service'], response: { 200: TimeSchema } }),
        config: { role: 'viewer' },
      },
      async () => ({
        now: deps.clock.now().toISOString(),
        timezone: deps.timezone,
        sites: Object.fromEntries(
          await Promise.all((await deps.store.sites()).map(async (s) => [s.id, await siteTimezone(deps.store, s.id, deps.timezone)] as const)),
        ),
      }),
    );
  };
}
