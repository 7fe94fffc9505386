import {
  ALARM_NAMES,
  BRANCH_MODES,
  contractVersionOf,
  DOOR_STATES,
  INTRUDER_ALARM_STATES,
  isKnown,
  POLICY_SOURCES,
  READER_ROLES,
  type ReceivedState,
} from '../../policies/contract/index.js';
import type { SiteRow } from '../store.js';

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

/** What a tile shows for one site: the stored row as the API and the live stream send it. */
export function siteSummary(row: SiteRow): Record<string, unknown> {
  return {
    id: row.id,
    online: row.online,
    since: row.since,
    lastSeen: row.lastSeen,
    policyVersion: row.policyVersion,
    state: row.state,
    contract: row.state ? contractVersionOf(row.state) : null,
    unknown: row.state ? unknownNames(row.state) : {},
  };
}
