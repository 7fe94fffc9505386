// The `oag` command line: one commander program, one module per subcommand in ./commands.
import { Command } from 'commander';
import { commandModules } from './commands/index.js';

const program = new Command('oag')
  .description('Open Access gateway: door control and occupancy for libraries in unstaffed hours')
  .showHelpAfterError()
  .configureHelp({ sortSubcommands: true });

for (const module of await commandModules()) module.register(program);

await program.parseAsync(process.argv);
