// The `oag` command line: one commander program, one module per subcommand in ./commands.
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { commandPath, describeFailure } from './commands/failure.js';
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
  .configureHelp({ sortSubcommands: true })
  // Commander's usage errors come back here as exceptions (it has printed them), for exit status 2.
  .exitOverride();

let running = '';
program.hook('preAction', (_program, action) => {
  running = commandPath(action);
});

for (const module of await commandModules()) module.register(program);

/** Whatever an action did not turn into words itself: one line (a stack only with OAG_DEBUG=1), exit 1. */
function fail(error: unknown): void {
  const { text, exitCode } = describeFailure(running, error);
  process.stderr.write(text);
  process.exit(exitCode);
}

// After the action returned (a running gateway or central), a service's own handlers come first: the gateway's
// make its outputs safe and log before exiting. These answer only when nothing else listens.
for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
  process.on(event, (error: unknown) => {
    if (process.listenerCount(event) === 1) fail(error);
  });
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? 0 : 2);
  fail(error);
}
