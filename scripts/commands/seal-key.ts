// `oag seal-key --kek-command rpi-otp-private-key [--in KEY] [--out SEALED]`: seals a plain deployment key with
// the device key a command prints, for `deploymentKeyFile` with `deploymentKeyUnseal` (docs/install.md). Run it on
// the Pi the key is for: the sealed file opens only where that command prints the same device key.
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { runCommand, UsageError } from './cli-errors.js';
import { processIo, type CommandIo } from './schedule.js';

export interface SealKeyOptions {
  kekCommand: string[];
  in: string;
  out?: string | undefined;
  timeoutMs: string;
}

export async function runSealKey(options: SealKeyOptions, io: CommandIo = processIo): Promise<number> {
  const { ConfigError, loadDeploymentKey } = await import('../../gateway/config.js');
  const { readKek } = await import('../../gateway/members/kek-command.js');
  const { SealedKeyError, sealKey, unsealKey } = await import('../../gateway/members/sealed-key.js');
  const { deploymentKeyId } = await import('../../policies/cards.js');
  const isRefusal = (error: unknown): boolean => error instanceof ConfigError || error instanceof SealedKeyError;
  return runCommand(
    io,
    async () => {
      const timeoutMs = Number(options.timeoutMs);
      if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 60_000) throw new UsageError(`--timeout-ms: a whole number from 100 to 60000 (got ${JSON.stringify(options.timeoutMs)})`);
      if (options.kekCommand.length === 0) throw new UsageError('--kek-command: name the program that prints the device key, e.g. --kek-command rpi-otp-private-key');
      // The same reading and checks as the gateway's own (hex or base64, at least 32 bytes; a sealed key is refused).
      const plain = loadDeploymentKey({ deploymentKeyFile: options.in }, {});
      const kek = readKek({ command: options.kekCommand, timeoutMs });
      const sealed = sealKey(plain, kek);
      // Proof before anything is written: this device's key opens it again to the same key.
      if (!unsealKey(sealed, kek).equals(plain)) throw new SealedKeyError('the sealed key does not open to the same key: nothing written');
      if (options.out === undefined) io.out(`${sealed}\n`);
      else {
        try {
          // `wx`: never over a file that is there already, which may be the only copy of a key.
          writeFileSync(options.out, `${sealed}\n`, { mode: 0o600, flag: 'wx' });
        } catch (error) {
          throw new UsageError(`--out ${options.out}: cannot write it (${(error as NodeJS.ErrnoException).code ?? 'error'}): nothing written`);
        }
      }
      io.err(`sealed deployment key ${deploymentKeyId(plain)} with the device key from ${options.kekCommand.join(' ')}; keep a copy of the clear key off this device\n`);
    },
    isRefusal,
  );
}

export function register(program: Command): void {
  program
    .command('seal-key')
    .description('seal the deployment key with a device key that is not on the SD card (rpi-otp-private-key), for deploymentKeyFile + deploymentKeyUnseal')
    .requiredOption('--kek-command <cmd...>', 'the command that prints the 32-byte device key in hex, e.g. rpi-otp-private-key')
    .option('--in <file>', 'the plain key (hex or base64)', '/dev/stdin')
    .option('--out <file>', 'write the sealed key here (mode 0600; refused if the file exists); default stdout')
    .option('--timeout-ms <ms>', 'how long the command may take', '5000')
    .action(async (options: SealKeyOptions) => {
      process.exitCode = await runSealKey(options);
    });
}
