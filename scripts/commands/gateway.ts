import type { Command } from 'commander';
import { CliFailure, listenProblem } from './failure.js';

const PART_NAMES: Record<string, string> = {
  'local-api': 'local API and staff console',
  uplink: 'link to central',
  sip2: 'SIP2 online check',
  'member-sync': 'member list sync',
};

export function register(program: Command): void {
  program
    .command('gateway')
    .description('run the branch gateway (the service systemd starts)')
    .requiredOption('-c, --config <file>', 'gateway config file (YAML)')
    .action(async (options: { config: string }) => {
      const { loadGatewayConfigForService, ConfigError } = await import('../../gateway/config.js');
      const { startGateway } = await import('../../gateway/main.js');
      let config;
      let dropped;
      try {
        // An invalid optional section (mqtt, sip2, http…) is left out and raised as config-invalid: the door runs.
        ({ config, dropped } = loadGatewayConfigForService(options.config));
      } catch (error) {
        if (error instanceof ConfigError) throw new CliFailure(error.message, 2);
        throw error;
      }
      let running;
      try {
        // SIGTERM/SIGINT: outputs safe at once, then a clean stop and exit (firmware-bridge/safety.ts).
        running = await startGateway(config, { handleSignals: true, droppedSections: dropped });
      } catch (error) {
        if (error instanceof ConfigError) throw new CliFailure(error.message, 2);
        const busy = listenProblem(error, [{ host: config.http.host, port: config.http.port, setting: 'http.port' }], options.config);
        if (busy !== undefined) throw new CliFailure(busy);
        throw error;
      }
      for (const { section, errors } of dropped) {
        process.stderr.write(`oag gateway: ${options.config}: the ${section} section is invalid and left out (${errors.join('; ')}); the door runs without it\n`);
      }
      // A part that could not start (the local API on a port in use, say) does not stop the doors: the gateway runs
      // and tries it again. Whoever started it by hand should still read why, and which setting to look at.
      for (const part of running.extensions.status()) {
        if (part.state !== 'failed' || part.error === undefined) continue;
        const error = part.error.replace(/\((http\.\w+|mqtt\.\w+|sip2\.\w+)\)$/, `($1 in ${options.config})`);
        process.stderr.write(`oag gateway: ${error}; the gateway runs without its ${PART_NAMES[part.name] ?? part.name} and tries again\n`);
      }
    });
}
