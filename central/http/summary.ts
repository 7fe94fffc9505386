import type { SiteRow } from '../store.js';

/** What a tile shows for one site: the stored row as the API and the live stream send it. */
export function siteSummary(row: SiteRow): Record<string, unknown> {
  return {
    id: row.id,
    online: row.online,
    since: row.since,
    lastSeen: row.lastSeen,
    policyVersion: row.policyVersion,
    state: row.state,
  };
}
