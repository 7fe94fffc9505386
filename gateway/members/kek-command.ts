// Reads the key-encryption key for a sealed deployment key from a command (`rpi-otp-private-key` on a Raspberry Pi
// 4/5 or CM4, which prints the device's customer OTP key as 64 hex digits). Run once at start, before the door runs:
// synchronous, no shell, a timeout and a bounded stdout, and every failure one line without the command's output.
import { spawnSync } from 'node:child_process';
import { SealedKeyError } from './sealed-key.js';

export interface KekCommand {
  /** The program and its arguments, run without a shell. */
  command: readonly string[];
  timeoutMs: number;
}

// 64 hex digits and a newline; a little room for a tool that says more, no room for a runaway one.
const MAX_STDOUT_BYTES = 4096;

function firstLine(text: string): string {
  const line = text.split('\n').find((l) => l.trim() !== '')?.trim() ?? '';
  return line.length > 120 ? `${line.slice(0, 120)}…` : line;
}

/** The 32-byte device secret the command prints, or SealedKeyError naming the command and what went wrong. */
export function readKek({ command, timeoutMs }: KekCommand): Buffer {
  const [program, ...args] = command;
  if (program === undefined) throw new SealedKeyError('deploymentKeyUnseal.command: empty');
  const name = command.join(' ');
  const run = spawnSync(program, args, { encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: MAX_STDOUT_BYTES, stdio: ['ignore', 'pipe', 'pipe'] });
  const code = (run.error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') throw new SealedKeyError(`deploymentKeyUnseal.command: ${program}: not found`);
  if (code === 'ETIMEDOUT') throw new SealedKeyError(`deploymentKeyUnseal.command (${name}): no answer within ${timeoutMs} ms`);
  if (code === 'ENOBUFS') throw new SealedKeyError(`deploymentKeyUnseal.command (${name}): printed more than ${MAX_STDOUT_BYTES} bytes`);
  if (run.error !== undefined) throw new SealedKeyError(`deploymentKeyUnseal.command (${name}): cannot run it (${code ?? run.error.message})`);
  if (run.status !== 0) {
    const said = firstLine(run.stderr ?? '');
    throw new SealedKeyError(`deploymentKeyUnseal.command (${name}): exited with ${run.status ?? run.signal}${said === '' ? '' : `: ${said}`}`);
  }
  const out = (run.stdout ?? '').trim();
  if (!/^[0-9a-fA-F]{64}$/.test(out)) throw new SealedKeyError(`deploymentKeyUnseal.command (${name}): did not print a 32-byte key as 64 hex digits`);
  if (/^0+$/.test(out)) throw new SealedKeyError(`deploymentKeyUnseal.command (${name}): the device key is not set (all zeros)`);
  return Buffer.from(out, 'hex');
}
