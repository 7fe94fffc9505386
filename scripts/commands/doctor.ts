// `oag doctor --config FILE`: checks a branch from the inside (config, policy, store, clock, GPIO, readers, keypad,
// sound, broker and its ACL, central's key, console, member list) and prints each finding with its fix. Exit 1 when
// anything failed, 0 otherwise (warnings alone included); `--json` prints the findings for scripts. Read-only: it
// runs beside the service as well as with it stopped (docs/install.md, "oag doctor").
import type { Command } from 'commander';
import type { DoctorDeps } from '../../gateway/doctor/run.js';
import { processIo, type CommandIo } from './schedule.js';

export interface DoctorOptions {
  json?: boolean | undefined;
}

export async function runDoctorCommand(configFile: string, io: CommandIo, options: DoctorOptions = {}, deps?: DoctorDeps): Promise<number> {
  const { runDoctor, systemDoctorDeps } = await import('../../gateway/doctor/run.js');
  const { doctorExitCode, formatFindings } = await import('../../gateway/doctor/findings.js');
  const report = await runDoctor(configFile, deps ?? systemDoctorDeps());
  if (options.json === true) io.out(`${JSON.stringify(report.findings, null, 2)}\n`);
  else io.out(formatFindings(report.findings, `oag doctor: ${report.site === undefined ? '' : `branch ${report.site}, `}${configFile}`));
  return doctorExitCode(report.findings);
}

export function register(program: Command): void {
  program
    .command('doctor')
    .description('check this branch from the inside and print each finding with its fix; exit 1 on any failure')
    .requiredOption('-c, --config <file>', 'gateway config file (YAML)')
    .option('--json', 'print the findings as JSON')
    .action(async (options: { config: string; json?: boolean }) => {
      process.exitCode = await runDoctorCommand(options.config, processIo, { json: options.json });
    });
}
