// `oag boot-config --config FILE`: the config.txt `gpio=` lines for a gateway config's pins, to paste into the
// Raspberry Pi's /boot/firmware/config.txt after changing a pin (install-pi.sh writes the example config's).
import type { Command } from 'commander';
import { processIo, type CommandIo } from './schedule.js';

export async function runBootConfig(file: string, io: CommandIo): Promise<number> {
  const { loadDoorHardware, ConfigError } = await import('../../gateway/config.js');
  const { bootConfigLines } = await import('../../firmware-bridge/boot-config.js');
  let hardware;
  try {
    hardware = loadDoorHardware(file);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const line of error.errors) io.err(`${line}\n`);
    return 1;
  }
  // Every driver but the simulated one drives the Pi's pins (sysfs, gpiod, auto).
  if (hardware.gpio.driver === 'simulated') {
    io.err(`${file}: gpio.driver is ${hardware.gpio.driver}: no pins, no config.txt lines\n`);
    return 1;
  }
  io.out(
    [
      `# Open Access gateway: GPIO from the first second of boot, for ${file}.`,
      '# Outputs at their safe level (op = output, dh/dl = drive high/low), inputs with their pull-ups (ip,pu).',
      ...bootConfigLines(hardware),
      '',
    ].join('\n'),
  );
  return 0;
}

export function register(program: Command): void {
  program
    .command('boot-config')
    .description("print the Raspberry Pi config.txt gpio= lines (boot levels, pull-ups) for a gateway config's pins")
    .requiredOption('-c, --config <file>', 'gateway config file (YAML): only hardware and lock are read')
    .action(async (options: { config: string }) => {
      process.exitCode = await runBootConfig(options.config, processIo);
    });
}
