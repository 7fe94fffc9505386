import { z } from 'zod';
import { InstantSchema, READER, SENDER, type Dialect, type Side } from './common.js';

/**
 * `…/availability`, retained. `online` is published on every connect; `offline` is the MQTT last will (its `at`
 * is when that connection began, as a will is written before anything goes wrong) and the goodbye on a clean stop.
 */
function availabilitySchema<S extends Side>(d: Dialect<S>) {
  return d.object({
    v: d.siteVersion,
    state: z.enum(['online', 'offline']),
    at: InstantSchema,
  });
}

export const AvailabilitySchema = availabilitySchema(SENDER);
export type Availability = z.input<typeof AvailabilitySchema>;

export const ReceivedAvailabilitySchema = availabilitySchema(READER);
export type ReceivedAvailability = z.output<typeof ReceivedAvailabilitySchema>;
