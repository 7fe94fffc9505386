// The `oag` command line: one commander program, one module per subcommand in ./commands.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { commandModules } from './commands/index.js';

/** package.json's version, looked up from the sources (scripts/) and from the build a Pi runs (dist/scripts/). */
function packageVersion(): string {
  for (const candidate of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(candidate, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'open-access-gateway' && pkg.version) return pkg.version;
    } catch {
      // Not at this level: try the next one up.
    }
  }
  return 'unknown';
}

const program = new Command('oag')
  .description('Open Access gateway: door control and occupancy for libraries in unstaffed hours')
  .version(packageVersion(), '-V, --version', 'print the version')
  .showHelpAfterError()
  .configureHelp({ sortSubcommands: true });

for (const module of await commandModules()) module.register(program);

await program.parseAsync(process.argv);
