// The announcements' phrases as the player queues them: their words and languages are the policy's
// (policies/phrases.ts); which message interrupts which is the branch's.
import type { Policy } from '../../policies/index.js';
import type { AnnouncementsSettings, PhraseId } from '../../policies/phrases.js';

export * from '../../policies/phrases.js';

/** Higher interrupts lower; a lower or equal one waits its turn. */
export const PHRASE_PRIORITY: Readonly<Record<PhraseId, number>> = {
  evacuate: 100,
  'please-leave': 50,
  'closing-now': 50,
  'door-held': 40,
  'closing-soon': 30,
  'booking-ending': 30,
  'help-acknowledged': 20,
  welcome: 10,
};
/** Words staff typed (the console, central's `announce`): after the closing messages, before a welcome. */
export const TEXT_PRIORITY = 30;

/** A policy's announcements, or English alone where it has no announcements section (the gateway and `oag sounds`). */
export function announcementSettings(policy: Pick<Policy, 'announcements'>): AnnouncementsSettings {
  return policy.announcements ?? { languages: ['en'] };
}
