import { z } from 'zod';
import { ActorSchema, InstantSchema } from './common.js';

export const COMMAND_NAMES = [
  'unlock',
  'lock',
  'lockdown-on',
  'lockdown-off',
  'lights-on',
  'lights-off',
  'reset-occupancy',
  'reset-alarms',
  'announce',
  'resync',
] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];

/** A command older (or further ahead) than this by its `at` is refused: a late "unlock" must never open a door. */
export const COMMAND_MAX_AGE_MS = 10_000;

/**
 * `…/command`, to one site, never retained. `unlock` opens the door once (one release time), it does not leave it
 * unlocked. The reply goes to the MQTT 5 response topic with the request's correlation data.
 */
export const CommandSchema = z
  .strictObject({
    id: z.uuid({ error: 'must be a UUID' }),
    at: InstantSchema,
    command: z.enum(COMMAND_NAMES),
    actor: ActorSchema,
    /** The words to announce; only with `announce`. */
    text: z.string().min(1).max(280).optional(),
  })
  .check((ctx) => {
    const { command, text } = ctx.value;
    if (command === 'announce' && text === undefined) {
      ctx.issues.push({ code: 'custom', path: ['text'], message: 'required with announce', input: text });
    } else if (command !== 'announce' && text !== undefined) {
      ctx.issues.push({ code: 'custom', path: ['text'], message: 'only allowed with announce', input: text });
    }
  });
export type Command = z.infer<typeof CommandSchema>;

/**
 * The gateway's answer. `id` repeats the command's id when it could be read, so a requester on an MQTT 3.1.1
 * broker (no correlation data) can still match the reply to its request.
 */
export const CommandReplySchema = z.discriminatedUnion('ok', [
  z.strictObject({ ok: z.literal(true), id: z.uuid().optional() }),
  z.strictObject({ ok: z.literal(false), error: z.string().min(1).max(2000), id: z.uuid().optional() }),
]);
export type CommandReply = z.infer<typeof CommandReplySchema>;
