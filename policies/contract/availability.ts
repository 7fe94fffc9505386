import { z } from 'zod';
import { InstantSchema } from './common.js';

/**
 * `…/availability`, retained. `online` is published on every connect; `offline` is the MQTT last will (its `at`
 * is when that connection began, as a will is written before anything goes wrong) and the goodbye on a clean stop.
 */
export const AvailabilitySchema = z.strictObject({
  state: z.enum(['online', 'offline']),
  at: InstantSchema,
});
export type Availability = z.infer<typeof AvailabilitySchema>;
