// The incidents central raises itself, beside the alarms gateways send. Their names are slugs like the gateways'
// alarms, so rules list them the same way.
import { CHANNELS, type Channel } from './types.js';

/** Where central's own incidents (a failing channel) are filed: not a site id, which cannot hold parentheses. */
export const CENTRAL_SITE = '(central)';

/** A branch offline (its last will) for longer than the rules' `offline.afterMinutes`. */
export const OFFLINE_ALARM = 'offline';

/** A notification channel failing: `email-failed`, `webhook-failed`, `sms-failed`. */
export function channelFailedAlarm(channel: Channel): `${Channel}-failed` {
  return `${channel}-failed`;
}

/** The library system's feed of member changes (Koha's REST API) failing poll after poll: blocks made there wait. */
export const LMS_FEED_ALARM = 'lms-feed-failed';

/** Central's history store refusing writes (disk full, PostgreSQL away): the branches' events wait in the broker. */
export const STORE_ALARM = 'store-failed';

export const CENTRAL_ALARM_NAMES: readonly string[] = [OFFLINE_ALARM, LMS_FEED_ALARM, STORE_ALARM, ...CHANNELS.map(channelFailedAlarm)];
