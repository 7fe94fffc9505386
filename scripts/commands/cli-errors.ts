// How an `oag` subcommand ends: 0 when it did what was asked; 2 for a usage mistake (a missing option, a file that
// cannot be read); 1 when the thing asked was refused (an account that exists, a revoked token...). Either way the
// message names what is wrong, on stderr, and nothing else: anything else is a bug, and is thrown.
import type { CommandIo } from './schedule.js';

/** The command was called wrongly: exit status 2. */
export class UsageError extends Error {}

export async function runCommand(io: Pick<CommandIo, 'err'>, fn: () => Promise<void>, isRefusal: (error: unknown) => boolean): Promise<number> {
  try {
    await fn();
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`${error.message}\n`);
      return 2;
    }
    if (isRefusal(error)) {
      io.err(`${(error as Error).message}\n`);
      return 1;
    }
    throw error;
  }
}
