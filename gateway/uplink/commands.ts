// Commands from central: validated, fresh, answered once. Kept apart from the MQTT client so every refusal can be
// tested without a broker.
import type { Logger } from 'pino';
import {
  COMMAND_MAX_AGE_MS,
  COMMAND_NAMES,
  COMMANDS_WITHOUT_MAX_AGE,
  CONTRACT_MINOR,
  CONTRACT_VERSION,
  contractVersionOf,
  isKnown,
  parseMessage,
  ReceivedCommandSchema,
  type Command,
  type CommandReply,
  type SiteTopics,
} from '../../policies/contract/index.js';
import type { CommandResult, UplinkCommands } from './types.js';

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

const REMEMBERED_COMMANDS = 200;

export class CommandHandler {
  /** Recent command ids: a QoS 1 redelivery of "unlock" must not open the door twice. */
  private readonly recent = new Map<string, Promise<CommandResult>>();

  constructor(
    private readonly deps: {
      topics: SiteTopics;
      commands: UplinkCommands;
      clock: { now(): Date };
      logger: Logger;
      maxAgeMs?: number;
    },
  ) {}

  async handle(msg: IncomingCommand): Promise<CommandAnswer> {
    const { topics, logger } = this.deps;
    const route = { topic: topics.commandReply, correlationData: msg.correlationData };
    const refuse = (error: string, id?: string): CommandAnswer => {
      logger.warn({ error, commandId: id }, 'command refused');
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

    const parsed = parseMessage(ReceivedCommandSchema, msg.payload);
    const id = readId(msg.payload);
    if (!parsed.ok) return refuse(`invalid command: ${parsed.errors.join('; ')}`, id);
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

    const age = this.deps.clock.now().getTime() - Date.parse(cmd.at);
    const maxAge = this.deps.maxAgeMs ?? COMMAND_MAX_AGE_MS;
    if (isKnown(COMMANDS_WITHOUT_MAX_AGE, cmd.command)) {
      if (Math.abs(age) > maxAge) logger.warn({ commandId: cmd.id, command: cmd.command, ageMs: age }, 'command taken although its time is off: it only secures the branch');
    } else if (age > maxAge) {
      return refuse(`stale command: sent ${Math.round(age / 1000)} s ago (limit ${maxAge / 1000} s)`, cmd.id);
    } else if (age < -maxAge) {
      return refuse(`command dated ${Math.round(-age / 1000)} s in the future: check the clocks`, cmd.id);
    }

    let result = this.recent.get(cmd.id);
    if (result === undefined) {
      result = this.run(cmd, contractVersionOf(received));
      this.recent.set(cmd.id, result);
      if (this.recent.size > REMEMBERED_COMMANDS) {
        const oldest = this.recent.keys().next().value;
        if (oldest !== undefined) this.recent.delete(oldest);
      }
    } else {
      logger.info({ commandId: cmd.id }, 'command delivered again: answering with the first result');
    }
    const outcome = await result;
    const reply: CommandReply = outcome.ok ? { v: CONTRACT_MINOR, ok: true, id: cmd.id } : { v: CONTRACT_MINOR, ok: false, error: outcome.error, id: cmd.id };
    return { ...route, reply };
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
