import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('gateway')
    .description('run the branch gateway (the service systemd starts)')
    .requiredOption('-c, --config <file>', 'gateway config file (YAML)')
    .action(async (options: { config: string }) => {
      const { loadGatewayConfig, ConfigError } = await import('../../gateway/config.js');
      const { startGateway } = await import('../../gateway/main.js');
      try {
        // SIGTERM/SIGINT: outputs safe at once, then a clean stop and exit (firmware-bridge/safety.ts).
        await startGateway(loadGatewayConfig(options.config), { handleSignals: true });
      } catch (error) {
        if (error instanceof ConfigError) {
          console.error(error.message);
          process.exit(2);
        }
        throw error;
      }
    });
}
