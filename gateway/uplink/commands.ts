// Commands from central: signed by central, validated, fresh, answered once. Kept apart from the MQTT client so every
// refusal can be tested without a broker.
//
// Replay: the signature covers the command's `id` and `at`. A command is taken only within COMMAND_MAX_AGE_MS of its
// `at`, and every id taken is remembered until its `at` is that far behind, so the same signed command delivered
// again (a QoS 1 redelivery, or an attacker replaying it) gets the first answer and is never run twice, and one
// captured and replayed later is stale. `lock` and `lockdown-on` are taken whatever their `at` (COMMANDS_WITHOUT_MAX_AGE):
// replayed later, they only secure the branch again, which staff can lift.
import type { Logger } from 'pino';
import {
  COMMAND_MAX_AGE_MS,
  COMMAND_NAMES,
  COMMANDS_WITHOUT_MAX_AGE,
  CONTRACT_MINOR,
  CONTRACT_VERSION,
  contractVersionOf,
  isKnown,
  parseSignedMessage,
  ReceivedCommandSchema,
  type Command,
  type CommandReply,
  type SiteTopics,
} from '../../policies/contract/index.js';
import { RefusalLog } from './refusal-log.js';
import type { CommandResult, UplinkCommands } from './types.js';
import type { CentralPublicKey } from './verify.js';

export interface IncomingCommand {
  topic: string;
  payload: Buffer;
  retain: boolean;
  /** MQTT 5 properties of the request, when the broker speaks MQTT 5. */
  responseTopic?: string | undefined;
  correlationData?: Buffer | undefined;
}

export interface CommandAnswer {
  topic: string;
  correlationData?: Buffer | undefined;
  reply: CommandReply;
}

export class CommandHandler {
  /**
   * Every command id taken, until its `at` is past the age limit: a redelivery or a replay of "unlock" must not open
   * the door twice. Only signed commands get here, so only central can make it grow.
   */
  private readonly recent = new Map<string, { result: Promise<CommandResult>; forgetAt: number }>();
  private readonly refusals: RefusalLog;

  constructor(
    private readonly deps: {
      topics: SiteTopics;
      commands: UplinkCommands;
      /** Central's public keys (verify.ts): a command none of them signed is refused. */
      centralKeys: readonly CentralPublicKey[];
      clock: { now(): Date };
      logger: Logger;
      maxAgeMs?: number;
    },
  ) {
    this.refusals = new RefusalLog(deps.logger);
  }

  stop(): void {
    this.refusals.stop();
  }

  async handle(msg: IncomingCommand): Promise<CommandAnswer> {
    const { topics, logger } = this.deps;
    const route = { topic: topics.commandReply, correlationData: msg.correlationData };
    // Logged the first time for each reason, then counted: a flood of forged commands is not a flood of lines.
    const refuse = (error: string, id?: string, reason = error): CommandAnswer => {
      this.refusals.refused('command', reason, { error, commandId: id });
      return { ...route, reply: id === undefined ? { v: CONTRACT_MINOR, ok: false, error } : { v: CONTRACT_MINOR, ok: false, error, id } };
    };

    // Authorised by topic: only this site's own command topic is ever acted on.
    if (msg.topic !== topics.command) return refuse(`commands are only taken on ${topics.command}`);
    if (msg.responseTopic !== undefined) {
      // A reply outside the site's own tree would let a sender use the gateway to publish where the site may not.
      if (!msg.responseTopic.startsWith(topics.root) || /[#+]/.test(msg.responseTopic)) {
        return refuse(`response topic must be under ${topics.root}`);
      }
      route.topic = msg.responseTopic;
    }

    // The signature first: nothing unsigned is even validated, and its refusal says `signature: …`.
    const parsed = parseSignedMessage(ReceivedCommandSchema, msg.payload, { topic: topics.command, keys: this.deps.centralKeys });
    const id = readId(msg.payload);
    if (!parsed.ok) {
      if (parsed.signature === 'refused') return refuse(parsed.errors.join('; '), id);
      return refuse(`invalid command: ${parsed.errors.join('; ')}`, id, 'invalid command');
    }
    const received = parsed.value;
    if (msg.retain) return refuse('retained commands are never acted on', received.id);
    // A newer central may send a command this gateway has never heard of: it is told so by name, and the
    // version and list tell the operator which gateways need upgrading for it.
    if (!isKnown(COMMAND_NAMES, received.command)) {
      return refuse(
        `unknown command "${received.command}": this gateway (contract ${CONTRACT_VERSION}) knows ${COMMAND_NAMES.join(', ')}`,
        received.id,
      );
    }
    const cmd: Command = {
      id: received.id,
      at: received.at,
      command: received.command,
      actor: received.actor,
      ...(received.text !== undefined ? { text: received.text } : {}),
    };

    const now = this.deps.clock.now().getTime();
    const age = now - Date.parse(cmd.at);
    const maxAge = this.deps.maxAgeMs ?? COMMAND_MAX_AGE_MS;
    // Kept while a copy could still be taken: until its `at` is past the limit (or a window from now, for a command
    // taken whatever its time).
    let forgetAt = Date.parse(cmd.at) + maxAge;
    if (isKnown(COMMANDS_WITHOUT_MAX_AGE, cmd.command)) {
      if (Math.abs(age) > maxAge) logger.warn({ commandId: cmd.id, command: cmd.command, ageMs: age }, 'command taken although its time is off: it only secures the branch');
      forgetAt = Math.max(forgetAt, now + maxAge);
    } else if (age > maxAge) {
      return refuse(`stale command: sent ${Math.round(age / 1000)} s ago (limit ${maxAge / 1000} s)`, cmd.id, 'stale command');
    } else if (age < -maxAge) {
      return refuse(`command dated ${Math.round(-age / 1000)} s in the future: check the clocks`, cmd.id, 'command dated in the future');
    }

    this.forgetBefore(now);
    let taken = this.recent.get(cmd.id);
    if (taken === undefined) {
      taken = { result: this.run(cmd, contractVersionOf(received)), forgetAt };
      this.recent.set(cmd.id, taken);
    } else {
      logger.info({ commandId: cmd.id }, 'command delivered again: answering with the first result, not run again');
    }
    const outcome = await taken.result;
    const reply: CommandReply = outcome.ok ? { v: CONTRACT_MINOR, ok: true, id: cmd.id } : { v: CONTRACT_MINOR, ok: false, error: outcome.error, id: cmd.id };
    return { ...route, reply };
  }

  private forgetBefore(now: number): void {
    for (const [id, taken] of this.recent) if (taken.forgetAt < now) this.recent.delete(id);
  }

  private async run(cmd: Command, contract: string): Promise<CommandResult> {
    const { commands, logger } = this.deps;
    try {
      const result = await commands.execute(cmd, `central:${cmd.actor}`);
      logger.info({ commandId: cmd.id, command: cmd.command, actor: cmd.actor, contract, ok: result.ok }, 'command from central');
      if (!result.ok && result.error.length === 0) return { ok: false, error: 'refused' };
      return result;
    } catch (err) {
      logger.error({ err, commandId: cmd.id }, 'command failed');
      return { ok: false, error: `failed: ${(err as Error).message}` };
    }
  }
}

/** The id of a command that failed validation, when one can be read, so the requester can still match the error. */
function readId(payload: Buffer): string | undefined {
  try {
    const json = JSON.parse(payload.toString('utf8')) as unknown;
    if (json && typeof json === 'object' && 'id' in json) {
      const id = (json as { id: unknown }).id;
      if (typeof id === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i.test(id)) return id;
    }
  } catch {
    // not JSON: no id to give back
  }
  return undefined;
}
