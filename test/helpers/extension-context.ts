// An extension's context as the gateway hands it, for an extension tested on its own: its listeners on a bus of the
// test's, and the lines it logs at info and warn kept for the test to read.
import { pino } from 'pino';
import type { EventBus } from '../../gateway/core/bus.js';
import type { ExtensionContext } from '../../gateway/extensions/extension.js';

/** `name` owns its listeners on `bus`; `lines` holds each info or warn message, in order. */
export function extensionContext(name: string, bus: EventBus): { context: ExtensionContext; lines: string[] } {
  const lines: string[] = [];
  const logger = pino({ level: 'silent' });
  // pino is called as (message) or (fields, message): the message is the last string.
  const log = (message: unknown, text?: string) => void lines.push(typeof text === 'string' ? text : String(message));
  logger.info = log as typeof logger.info;
  logger.warn = log as typeof logger.warn;
  const context: ExtensionContext = { logger, on: (event, listener) => void bus.on(event, listener, name), fail: () => {} };
  return { context, lines };
}
