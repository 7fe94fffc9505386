// `members.koha`: central asks Koha's REST API for the patrons changed since it last looked, every `pollSeconds`,
// and makes each poll's changes one member-list version (docs/members.md, *Koha*). The client secret (or the basic
// auth password) is read from a file, never written in the config.
import { z } from 'zod';
import { checkHttpUrl } from '../../alerts/channels/http-send.js';

const values = z.array(z.string().trim().min(1)).min(1);

export const KohaFeedConfigSchema = z
  .strictObject({
    /** Koha's staff interface address, without `/api/v1` (`https://koha-staff.example.org`). */
    url: z.string().superRefine((text, ctx) => {
      const wrong = checkHttpUrl(text);
      if (wrong !== null) ctx.addIssue({ code: 'custom', message: wrong });
    }),
    /** `oauth` (client credentials, RESTOAuth2ClientCredentials on) or `basic` (RESTBasicAuth on). */
    auth: z.enum(['oauth', 'basic']).default('oauth'),
    /** The API client's id (oauth) or the staff user's login (basic). It needs the `borrowers` permission to list. */
    clientId: z.string().trim().min(1),
    /** A file holding the client secret (oauth) or the password (basic), one line. */
    clientSecretFile: z.string().min(1),
    // 3 s: a block is refused at every online branch within one interval plus about 0.1 s (p95 < 5 s, issue #18),
    // for one indexed query every 3 s at Koha.
    pollSeconds: z.int().min(1).max(3600).default(3),
    /** Patrons per page (`_per_page`). */
    perPage: z.int().min(1).max(1000).default(200),
    /** A request that has not answered within this long is given up, and the poll with it. */
    timeoutSeconds: z.int().min(1).max(300).default(20),
    /**
     * Each poll asks again from this long before the newest `updated_on` it has seen: changes committed in the same
     * second as that one, or by a transaction that ended late, are not missed (seen twice, they change nothing).
     */
    overlapSeconds: z.int().min(0).max(3600).default(5),
    /** Polls that fail in a row before central raises `lms-feed-failed` (an incident, docs/alerts.md). */
    failuresBeforeIncident: z.int().min(1).max(1000).default(3),
    /** A patron attribute type (`extended_attributes`) whose yes value registers the patron for open access. */
    registeredAttribute: z.string().trim().min(1).optional(),
    /**
     * A patron attribute type (`extended_attributes`, repeatable or not) holding the patron's NFC card UIDs (hex, 4,
     * 7 or 10 bytes; several in one value separated by `;` `,` `|` or spaces): each opens the door as the patron.
     * Koha's patron has only `cardnumber` for a card; without this, the UIDs central holds for a patron stay.
     */
    cardUidsAttribute: z.string().trim().min(1).optional(),
    /** Patron categories (`category_id`, case-insensitive) registered for open access. */
    openAccessCategories: values.optional(),
    /** Patron categories that are staff cards. */
    staffCategories: values.optional(),
    /** Patron categories always refused. */
    blockedCategories: values.optional(),
  })
  .check((ctx) => {
    const c = ctx.value;
    if (c.registeredAttribute === undefined && c.openAccessCategories === undefined) {
      ctx.issues.push({ code: 'custom', path: ['registeredAttribute'], message: 'name the patron attribute that registers for open access, or give openAccessCategories', input: undefined });
    }
  });

export type KohaFeedConfig = z.output<typeof KohaFeedConfigSchema>;
