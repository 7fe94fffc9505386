import {
  ALARM_NAMES,
  ALARM_SEVERITY,
  BRANCH_MODES,
  contractVersionOf,
  DOOR_STATES,
  INTRUDER_ALARM_STATES,
  isKnown,
  POLICY_SOURCES,
  READER_ROLES,
  type ReceivedState,
} from '../../policies/contract/index.js';
import type { SiteRow } from '../history/history-store.js';

/** The open lists a state names, by the key `unknown` reports them under. */
export const STATE_NAME_LISTS = ['alarm', 'mode', 'door', 'readerRole', 'policySource', 'intruderAlarm'] as const;
export type StateNameList = (typeof STATE_NAME_LISTS)[number];

/**
 * The names in a state this central does not know, by list (empty lists left out): a newer gateway's, stored and
 * shown as they came and marked unknown, so an operator sees both the alarm and that central needs an upgrade.
 */
export function unknownNames(state: ReceivedState): Partial<Record<StateNameList, string[]>> {
  const found: Record<StateNameList, string[]> = {
    alarm: state.alarms.filter((a) => !isKnown(ALARM_NAMES, a)),
    mode: isKnown(BRANCH_MODES, state.mode) ? [] : [state.mode],
    door: isKnown(DOOR_STATES, state.door) ? [] : [state.door],
    readerRole: [...new Set(state.readers.map((r) => r.role).filter((role) => !isKnown(READER_ROLES, role)))],
    policySource: isKnown(POLICY_SOURCES, state.policy.source) ? [] : [state.policy.source],
    // 1.9: the panel's state, an open list too.
    intruderAlarm: state.intruderAlarm === undefined || isKnown(INTRUDER_ALARM_STATES, state.intruderAlarm.state) ? [] : [state.intruderAlarm.state],
  };
  return Object.fromEntries(Object.entries(found).filter(([, names]) => names.length > 0));
}

/** The region of a branch central's config places in none. */
export const OTHER_REGION = 'Other';

/** What central's config says of each branch: the name the dashboard shows, and the region it groups it under. */
export interface SiteDirectory {
  nameOf(site: string): string | null;
  regionOf(site: string): string;
}

/** `sites` and `regions` of central's config (one region per branch: the config's schema refuses two). */
export function siteDirectory(config: { sites: Record<string, { name?: string | undefined; region?: string | undefined }>; regions: Record<string, string[]> }): SiteDirectory {
  const regions = new Map<string, string>();
  for (const [region, ids] of Object.entries(config.regions)) for (const id of ids) regions.set(id, region);
  return {
    nameOf: (site) => (Object.hasOwn(config.sites, site) ? (config.sites[site]?.name ?? null) : null),
    regionOf: (site) => (Object.hasOwn(config.sites, site) ? config.sites[site]?.region : undefined) ?? regions.get(site) ?? OTHER_REGION,
  };
}

const NOBODY_NAMED = siteDirectory({ sites: {}, regions: {} });

/** Worst first; `warning` is an alarm this central does not know (as its incidents rate it). */
export const SEVERITY_ORDER = ['critical', 'major', 'warning', 'minor'] as const;

/** The worst severity among a branch's active alarms (ALARM_SEVERITY), null without one: the dashboard's first key. */
export function worstSeverity(alarms: readonly string[]): (typeof SEVERITY_ORDER)[number] | null {
  let worst: number | null = null;
  for (const alarm of alarms) {
    const severity = isKnown(ALARM_NAMES, alarm) ? ALARM_SEVERITY[alarm] : 'warning';
    const rank = SEVERITY_ORDER.indexOf(severity);
    worst = worst === null ? rank : Math.min(worst, rank);
  }
  return worst === null ? null : SEVERITY_ORDER[worst]!;
}

/** What a tile shows for one site: the stored row as the API and the live stream send it, named and placed by `directory`. */
export function siteSummary(row: SiteRow, directory: SiteDirectory = NOBODY_NAMED): Record<string, unknown> {
  return {
    id: row.id,
    name: directory.nameOf(row.id),
    region: directory.regionOf(row.id),
    severity: row.state ? worstSeverity(row.state.alarms) : null,
    online: row.online,
    since: row.since,
    lastSeen: row.lastSeen,
    policyVersion: row.policyVersion,
    state: row.state,
    contract: row.state ? contractVersionOf(row.state) : null,
    unknown: row.state ? unknownNames(row.state) : {},
  };
}
