// `oag central signing-key FILE`: makes central's Ed25519 signing key (private, 0600, never over an existing file)
// and prints its public key and key id, which every branch is given from install (`mqtt.centralKeys`).
// `--public FILE` prints the public key of an existing one (to add to a new branch, or to check a rollover).
import type { Command } from 'commander';
import { runCommand } from './cli-errors.js';
import { processIo, type CommandIo } from './schedule.js';

export interface SigningKeyOptions {
  public?: boolean | undefined;
}

/** Exit status: 0 done, 1 refused (the file exists, or is no Ed25519 key), 2 usage. */
export function runCentralSigningKey(file: string, options: SigningKeyOptions, io: CommandIo = processIo): Promise<number> {
  return runCommand(
    io,
    async () => {
      const { generateSigningKey, publicKeyPem, readSigningKey } = await import('../../central/signing-key.js');
      const key = options.public ? readSigningKey(file, file) : generateSigningKey(file);
      if (!options.public) io.err(`${file}: central's signing key (keep it secret; central's signing.keyFile)\n`);
      io.err(`key id ${key.kid}; the public key, for each branch's mqtt.centralKeys:\n`);
      io.out(publicKeyPem(key));
    },
    (error) => error instanceof Error && error.name === 'SigningKeyError',
  );
}

/** `oag central signing-key`, under `central`. */
export function registerCentralSigningKey(central: Command): void {
  central
    .command('signing-key')
    .description("make central's Ed25519 signing key and print its public key for the branches (or, with --public, print an existing key's)")
    .argument('<file>', 'the private key file to make (or to read, with --public)')
    .option('--public', 'print the public key of an existing private key file instead of making one')
    .addHelpText(
      'after',
      '\nThe public key goes to every branch (a file named in mqtt.centralKeys); the private key stays with central (signing.keyFile).\n' +
        'Rolling over to a new key: docs/central.md, *Signing*. Exit status: 0 done, 1 refused (file exists, not an Ed25519 key), 2 usage.',
    )
    .action(async (file: string, options: SigningKeyOptions) => {
      process.exitCode = await runCentralSigningKey(file, options);
    });
}
