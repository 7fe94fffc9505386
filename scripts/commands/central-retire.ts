// `oag central retire --config central-3.yaml`: takes an instance of a share group away for good, once it is stopped:
// the events its broker session still holds are stored, and the broker forgets the session (central/retire.ts).
import type { Command } from 'commander';
import { runCommand, UsageError } from './cli-errors.js';
import { processIo, type CommandIo } from './schedule.js';

export interface CentralRetireOptions {
  config?: string | undefined;
  quietSeconds?: string | undefined;
}

/** Exit status: 0 retired, 1 refused (still running, broker unreachable, the store refused), 2 usage. */
export function runCentralRetire(options: CentralRetireOptions, io: CommandIo = processIo): Promise<number> {
  return runCommand(
    io,
    async () => {
      const { default: pino } = await import('pino');
      const { loadCentralConfig } = await import('../../central/config.js');
      const { retireCentralInstance } = await import('../../central/retire.js');
      const quiet = Number(options.quietSeconds ?? '3');
      if (!Number.isFinite(quiet) || quiet < 0.5 || quiet > 600) throw new UsageError(`--quiet-seconds: ${options.quietSeconds} is not a number of seconds from 0.5 to 600`);
      if (options.config === undefined) throw new UsageError("--config: give the retired instance's config file (its broker client id is the session to end)");
      const config = loadCentralConfig(options.config);
      const logger = pino({ level: process.env.LOG_LEVEL ?? 'warn' }, pino.destination(2));
      const summary = await retireCentralInstance(config, { logger, clock: { now: () => new Date() }, quietMs: quiet * 1000 });
      io.out(
        `${summary.clientId}: retired. ${summary.messages} messages its session held were taken (${summary.stored} stored in ${summary.where}, ` +
          `${summary.duplicates} already there, ${summary.rejected} refused as invalid); the broker has forgotten its session.\n`,
      );
    },
    (error) => error instanceof Error && ['RetireRefusedError', 'CentralConfigError', 'CentralDatabaseError', 'SigningKeyError'].includes(error.name),
  );
}

/** `oag central retire`, under `central`. */
export function registerCentralRetire(central: Command): void {
  central
    .command('retire')
    .description("take a stopped instance of a share group away for good: store the events its broker session holds, then end the session")
    .option('-c, --config <file>', "the retired instance's config (its broker client id, store and signing key)")
    .option('--quiet-seconds <s>', 'done once the session has sent nothing for this long', '3')
    .addHelpText(
      'after',
      '\nStop the instance first. Without this, the broker keeps handing the retired instance its share of the events until its\n' +
        'session expires, and they are never stored. Exit status: 0 retired, 1 refused (running, broker or store unreachable), 2 usage.',
    )
    // `--config` is also an option of `oag central` itself, which commander gives it first.
    .action(async (options: CentralRetireOptions, command: Command) => {
      process.exitCode = await runCentralRetire({ ...(command.optsWithGlobals() as CentralRetireOptions), ...options });
    });
}
