// What the poller reads of a Koha patron (GET /api/v1/patrons, Koha's `patron` definition): the fields a door
// decision needs, checked as Koha documents them; every other field is left alone, unread. A patron that does not
// fit (Koha changed its API, or something that is not Koha answered) fails the whole poll, naming the field and
// never a value, so that nothing half-understood reaches the list.
import { z } from 'zod';

const nullableText = z.string().nullable().optional();
/** `format: date` in Koha's document: YYYY-MM-DD. */
const day = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'must be a date YYYY-MM-DD' })
  .nullable()
  .optional();
/** `format: date-time` (RFC 3339, with an offset, as Koha writes it). */
export const KohaDateTime = z.string().refine((s) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(s) && !Number.isNaN(Date.parse(s)), {
  error: 'must be an RFC 3339 date-time',
});

export const KohaPatronSchema = z.looseObject({
  patron_id: z.int(),
  cardnumber: nullableText,
  category_id: z.string(),
  date_of_birth: day,
  expiry_date: day,
  restricted: z.boolean(),
  patron_card_lost: z.boolean().nullable().optional(),
  anonymized: z.boolean().optional(),
  updated_on: KohaDateTime,
  extended_attributes: z.array(z.looseObject({ type: z.string(), value: z.string() })).optional(),
});

export type KohaPatron = z.output<typeof KohaPatronSchema>;

export const KohaPatronPageSchema = z.array(KohaPatronSchema);

/** The token endpoint's answer (POST /api/v1/oauth/token). */
export const KohaTokenSchema = z.looseObject({
  access_token: z.string().min(1),
  token_type: z.string().optional(),
  expires_in: z.int().positive().optional(),
});
