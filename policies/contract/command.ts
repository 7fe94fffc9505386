import { z } from 'zod';
import { ActorSchema, DisplayNameSchema, DoorIdSchema, InstantSchema, isKnown, READER, SENDER, type Dialect, type Side } from './common.js';
import { SignatureSchema } from './signing.js';

/** The commands this version knows. An open list: a gateway answers one it does not know with a refusal naming it. */
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
  /** 1.4: someone took on the branch's help call; `text` is their name as the branch shows it. */
  'help-acknowledged',
] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];

/** 1.8: the commands that may name a door (`door`); the others are the branch's. */
export const COMMANDS_FOR_A_DOOR = ['unlock', 'lock'] as const satisfies readonly CommandName[];

/** A command older (or further ahead) than this by its `at` is refused: a late "unlock" must never open a door. */
export const COMMAND_MAX_AGE_MS = 10_000;

/**
 * Commands that only secure the branch, taken whatever their `at`: a gateway whose clock is wrong (a Pi booted with
 * no network, say) cannot tell a skewed clock from an old command, and refusing a lockdown for it would be worse than
 * a late one, which staff lift.
 */
export const COMMANDS_WITHOUT_MAX_AGE = ['lock', 'lockdown-on'] as const satisfies readonly CommandName[];

/** The commands that carry `text`, and what it is: each requires it, and no other known command takes it. */
const TEXT_OF: Partial<Record<CommandName, { what: string; schema: z.ZodType<string> | undefined }>> = {
  announce: { what: 'the words to announce, or (1.9) a phrase id such as closing-soon: that prepared phrase in the branch’s languages', schema: undefined },
  'help-acknowledged': { what: 'who acknowledged', schema: DisplayNameSchema },
};
const TAKING_TEXT = Object.keys(TEXT_OF).join(' and ');

/**
 * `…/command`, to one site, never retained. `unlock` opens the door once (one release time), it does not leave it
 * unlocked. The reply goes to the MQTT 5 response topic with the request's correlation data.
 */
function commandSchema<S extends Side>(d: Dialect<S>) {
  return d
    .object({
      v: d.centralVersion,
      id: z.uuid({ error: 'must be a UUID' }),
      at: InstantSchema,
      command: d.name(COMMAND_NAMES),
      actor: ActorSchema,
      /** `announce`: the words to announce. `help-acknowledged` (1.4): who acknowledged, one line of at most 64. */
      text: z.string().min(1).max(280).optional(),
      /** 1.5: central's signature (signing.ts); a 1.5 gateway acts on no command without a valid one. */
      sig: SignatureSchema.optional(),
      /** 1.8, `unlock` and `lock`: the door, at a branch with several; absent: the main door. */
      door: DoorIdSchema.optional(),
    })
    .check((ctx) => {
      const { command, text, door } = ctx.value;
      // A command this version does not know may well take text: it is refused by name, not for that.
      if (!isKnown(COMMAND_NAMES, command)) return;
      if (door !== undefined && !(COMMANDS_FOR_A_DOOR as readonly string[]).includes(command)) {
        ctx.issues.push({ code: 'custom', path: ['door'], message: `only allowed with ${COMMANDS_FOR_A_DOOR.join(' and ')}`, input: door });
      }
      const takes = TEXT_OF[command];
      if (takes === undefined) {
        if (text !== undefined) ctx.issues.push({ code: 'custom', path: ['text'], message: `only allowed with ${TAKING_TEXT}`, input: text });
      } else if (text === undefined) {
        ctx.issues.push({ code: 'custom', path: ['text'], message: `required with ${command}`, input: text });
      } else {
        const checked = takes.schema?.safeParse(text);
        if (checked !== undefined && !checked.success) {
          ctx.issues.push({ code: 'custom', path: ['text'], message: `${checked.error.issues[0]?.message ?? 'invalid'} (${takes.what})`, input: text });
        }
      }
    });
}

/** A command as this version's central sends it. */
export const CommandSchema = commandSchema(SENDER);
export type Command = z.input<typeof CommandSchema>;

/** A command as a gateway reads it from a central of any 1.x version: the name is checked by the gateway. */
export const ReceivedCommandSchema = commandSchema(READER);
export type ReceivedCommand = z.output<typeof ReceivedCommandSchema>;

/**
 * The gateway's answer. `id` repeats the command's id when it could be read, so a requester on an MQTT 3.1.1
 * broker (no correlation data) can still match the reply to its request.
 */
function replySchema<S extends Side>(d: Dialect<S>) {
  return z.discriminatedUnion('ok', [
    d.object({ v: d.siteVersion, ok: z.literal(true), id: z.uuid().optional() }),
    d.object({ v: d.siteVersion, ok: z.literal(false), error: z.string().min(1).max(2000), id: z.uuid().optional() }),
  ]);
}

export const CommandReplySchema = replySchema(SENDER);
export type CommandReply = z.input<typeof CommandReplySchema>;

export const ReceivedCommandReplySchema = replySchema(READER);
export type ReceivedCommandReply = z.output<typeof ReceivedCommandReplySchema>;
