// `oag outputs-safe --config FILE`: every output to its safe level, from outside the gateway. The unit runs it as
// ExecStopPost, after any end of the service: a clean stop (the pins are already safe: the same level again), a crash,
// and the ends no handler sees (the watchdog's SIGABRT, SIGKILL after TimeoutStopSec, the OOM killer), which leave a
// strike mid-pulse energised until something writes the pin. It reads only `hardware` and `lock`, and needs no key,
// store or policy, so that whatever broke the gateway cannot break this too.
import type { Command } from 'commander';
import type { SysfsFiles } from '../../firmware-bridge/gpio/sysfs-safe.js';
import { processIo, type CommandIo } from './schedule.js';

export interface OutputsSafeOptions {
  files?: SysfsFiles;
  exportWaitMs?: number;
  /** systemd's SERVICE_RESULT, EXIT_CODE and EXIT_STATUS, for the log line that says what ended the gateway. */
  env?: NodeJS.ProcessEnv;
}

export async function runOutputsSafe(file: string, io: CommandIo, options: OutputsSafeOptions = {}): Promise<number> {
  const { loadDoorHardware, ConfigError } = await import('../../gateway/config.js');
  const { driveOutputsSafe } = await import('../../firmware-bridge/gpio/sysfs-safe.js');
  const env = options.env ?? process.env;
  const after = env.SERVICE_RESULT === undefined ? '' : ` after the gateway ended (${[env.SERVICE_RESULT, env.EXIT_CODE, env.EXIT_STATUS].filter(Boolean).join(' ')})`;
  let hardware;
  try {
    hardware = loadDoorHardware(file);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    io.err(`outputs-safe: ${file}: cannot tell the outputs' safe levels, nothing written${after}\n`);
    for (const line of error.errors) io.err(`  ${line}\n`);
    return 1;
  }
  let result;
  try {
    result = driveOutputsSafe(hardware, { files: options.files, exportWaitMs: options.exportWaitMs });
  } catch (error) {
    io.err(`outputs-safe: ${(error as Error).message}${after}\n`);
    return 1;
  }
  if (result.driver === 'simulated') {
    io.out(`outputs-safe: gpio.driver is simulated: no pin to drive${after}\n`);
    return 0;
  }
  const done = result.writes.filter((w) => w.error === undefined).map((w) => `${w.output} BCM ${w.bcm} ${w.level === 1 ? 'high' : 'low'}`);
  const failed = result.writes.filter((w) => w.error !== undefined);
  if (done.length > 0) io.out(`outputs-safe: ${done.join(', ')} (${result.chip})${after}\n`);
  for (const w of failed) io.err(`outputs-safe: ${w.output} BCM ${w.bcm} (gpio${w.gpio}) could not be driven ${w.level === 1 ? 'high' : 'low'}: ${w.error}\n`);
  return failed.length > 0 ? 1 : 0;
}

export function register(program: Command): void {
  program
    .command('outputs-safe')
    .description("drive every output to its safe level through sysfs (the gateway unit's ExecStopPost)")
    .requiredOption('-c, --config <file>', 'gateway config file (YAML): only hardware and lock are read')
    .action(async (options: { config: string }) => {
      process.exitCode = await runOutputsSafe(options.config, processIo);
    });
}
