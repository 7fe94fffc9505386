// `oag central mqtt-passwd FILE USERNAME`: a site's MQTT password into the password file that central's embedded
// broker and Mosquitto both read (central/mqtt-passwords.ts). The password is typed at a hidden prompt, or made with
// --generate and printed once, alone on standard output, for the gateway's `mqtt.passwordFile`; never taken from the
// command line, where `ps` and the shell history would keep it.
import type { Command } from 'commander';
import { CENTRAL_USERNAME } from '../../policies/contract/acl.js';
import { isSiteId } from '../../policies/contract/topics.js';
import { askHidden } from './ask-hidden.js';
import { runCommand, UsageError } from './cli-errors.js';
import { processIo, type CommandIo } from './schedule.js';

export interface MqttPasswdOptions {
  generate?: boolean | undefined;
}

export interface MqttPasswdIo extends CommandIo {
  /** A prompt that does not echo; undefined when there is no terminal to ask on. */
  askHidden: ((question: string) => Promise<string>) | undefined;
}

async function typedPassword(io: MqttPasswdIo, minLength: number): Promise<string> {
  if (io.askHidden === undefined) throw new UsageError('no terminal to ask the password on: give --generate');
  const password = await io.askHidden('MQTT password: ');
  if (password.length < minLength) throw new UsageError(`the password is shorter than ${minLength} characters (or use --generate); nothing changed`);
  if ((await io.askHidden('MQTT password again: ')) !== password) throw new UsageError('the two passwords differ; nothing changed');
  return password;
}

/** Exit status: 0 written, 1 the existing file is refused (nothing changed), 2 usage. */
export function runCentralMqttPasswd(file: string, username: string, options: MqttPasswdOptions, io: MqttPasswdIo = terminalIo()): Promise<number> {
  return runCommand(
    io,
    async () => {
      const { generatePassword, MIN_TYPED_PASSWORD_LENGTH, setPassword } = await import('../../central/mqtt-passwords.js');
      // The ACL gives nothing to any other name, so a typo here would make a user that can do nothing.
      if (username !== CENTRAL_USERNAME && !isSiteId(username)) {
        throw new UsageError(`username "${username}" must be a site id (lower case letters, digits and dashes, at most 63) or ${CENTRAL_USERNAME}`);
      }
      const password = options.generate ? generatePassword() : await typedPassword(io, MIN_TYPED_PASSWORD_LENGTH);
      const { replaced } = await setPassword(file, username, password);
      io.err(`${file}: ${replaced ? 'new password for' : 'added'} ${username}\n`);
      if (username === CENTRAL_USERNAME) {
        io.err(`  for Mosquitto only: the embedded broker ignores a "${CENTRAL_USERNAME}" line (central's own client gets a new password at each start)\n`);
      }
      if (options.generate) {
        io.err("  the password, shown once (the gateway's mqtt.passwordFile):\n");
        io.out(`${password}\n`);
      }
    },
    (error) => error instanceof Error && error.name === 'PasswordFileError',
  );
}

function terminalIo(): MqttPasswdIo {
  const tty = process.stdin.isTTY === true && process.stderr.isTTY === true;
  return { ...processIo, askHidden: tty ? askHidden : undefined };
}

/** `oag central mqtt-passwd`, under `central`. */
export function registerCentralMqttPasswd(central: Command): void {
  central
    .command('mqtt-passwd')
    .description("add a site's MQTT password to the password file of the embedded broker and Mosquitto (or replace it)")
    .argument('<file>', 'the password file (made if missing; Mosquitto format, $7$ PBKDF2-SHA512)')
    .argument('<username>', 'the site id (the gateway\'s mqtt.username), or central (for Mosquitto)')
    .option('--generate', 'make a long random password and print it once on standard output')
    .addHelpText(
      'after',
      '\nWithout --generate the password is asked twice at a hidden prompt (at least 12 characters).\n' +
        'A running embedded broker reads the file again when it changes; Mosquitto on SIGHUP.\n' +
        'Exit status: 0 written, 1 the existing file is refused (nothing changed), 2 usage.',
    )
    .action(async (file: string, username: string, options: MqttPasswdOptions) => {
      process.exitCode = await runCentralMqttPasswd(file, username, options);
    });
}
