// Names of the figures' categories, shared by the Figures page and the monthly report. A name this central does
// not know (a newer gateway's) is shown as it came, marked unknown (nameOf in common.js).

/** What let a card in: the grant reason on the access event. */
export const GRANT_KIND_LABELS = {
  member: 'Member',
  staff: 'Staff',
  booking: 'Group booking',
  accompanied: 'Child with an adult',
  staffed: 'Staffed hours',
};

/** The member's age band, carried on the access event itself (contract 1.8). */
export const AGE_BAND_LABELS = {
  child: 'Child',
  adult: 'Adult',
  unknown: 'Not known',
};
