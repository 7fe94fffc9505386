// Server-sent events: the dashboard gets a snapshot, then one message per changed site (coalesced per turn of
// the event loop, so a burst of changes sends each site once) and, when asked for one site, its new events.
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { openEventStream } from '../../kit/http/sse.js';
import type { ReceivedEvent } from '../../policies/contract/index.js';
import { SiteIdSchema } from '../../policies/contract/index.js';
import type { IncidentChange } from '../alerts/incidents.js';
import type { HttpDeps } from './server.js';
import { siteSummary } from './summary.js';
import { docs, zodValidate } from './zod-route.js';

const HEARTBEAT_MS = 15_000;
/** How soon a stream ends after the session or token that opened it does. */
const RECHECK_MS = 5_000;
const LiveQuerySchema = z.strictObject({ site: SiteIdSchema.optional() });

export function liveRoutes(deps: HttpDeps): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/live',
      {
        schema: docs({ summary: 'Live updates (text/event-stream): `sites` snapshot, then `site`, `event` and `incident` messages', query: LiveQuerySchema, produces: ['text/event-stream'] }),
        preValidation: zodValidate({ query: LiveQuerySchema }),
        config: { role: 'viewer' },
      },
      async (request, reply) => {
        const { site: only } = request.query as z.infer<typeof LiveQuerySchema>;
        const { send, ping, raw: res } = openEventStream(reply, { retryMs: 2000 });
        const rows = only ? [await deps.store.site(only)].filter((r) => r !== null) : await deps.store.sites();
        send('sites', rows.map((row) => siteSummary(row, deps.sites)));

        const dirty = new Set<string>();
        let flush: NodeJS.Immediate | null = null;
        const onSite = (site: string): void => {
          if (only !== undefined && site !== only) return;
          dirty.add(site);
          flush ??= setImmediate(() => {
            flush = null;
            const ids = [...dirty];
            dirty.clear();
            void sendSites(ids);
          });
        };
        const sendSites = async (ids: string[]): Promise<void> => {
          for (const id of ids) {
            try {
              const row = await deps.store.site(id);
              if (row && !res.writableEnded) send('site', siteSummary(row, deps.sites));
            } catch (err) {
              // The store away for a moment: the next change of the branch brings its tile up to date.
              request.log.warn({ site: id, err: (err as Error).message }, 'live: could not read a branch for its tile');
            }
          }
        };
        const onEvent = (event: ReceivedEvent): void => {
          if (only !== undefined && event.site === only) send('event', event);
        };
        // Incidents (new, acknowledged, cleared...) reach every dashboard; a page of one branch gets that branch's.
        const onIncident = (change: IncidentChange): void => {
          if (only !== undefined && change.incident.site !== only) return;
          send('incident', { kind: change.kind, incident: change.incident });
        };
        const heartbeat = setInterval(ping, HEARTBEAT_MS);
        // A stream outlives the request that opened it: it ends when the session or token that opened it does.
        const recheck = setInterval(() => {
          // A store that cannot vouch for the credential ends the stream too (the page signs in again).
          void deps.auth.stillSignedIn(request).then(
            (ok) => ok,
            () => false,
          ).then((ok) => {
            if (ok || res.writableEnded) return;
            send('signed-out', { message: 'the session has ended: sign in again' });
            res.end();
          });
        }, RECHECK_MS);
        deps.bus.on('site', onSite);
        deps.bus.on('event', onEvent);
        deps.alerts.alerts.incidents.on('change', onIncident);
        request.raw.on('close', () => {
          clearInterval(heartbeat);
          clearInterval(recheck);
          if (flush) clearImmediate(flush);
          deps.bus.off('site', onSite);
          deps.bus.off('event', onEvent);
          deps.alerts.alerts.incidents.off('change', onIncident);
        });
      },
    );
  };
}
