import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('central')
    .description('run the central service: MQTT ingest, history, dashboard and API (embedded broker unless one is configured)')
    .option('-c, --config <file>', 'central config file (YAML or JSON); without it: embedded broker on 1883, dashboard on 127.0.0.1:8090')
    .action(async (options: { config?: string }) => {
      const { CentralConfigError, loadCentralConfig, parseCentralConfig } = await import('../../central/config.js');
      const { startCentral } = await import('../../central/main.js');
      const { pino } = await import('pino');
      let config;
      try {
        config = options.config ? loadCentralConfig(options.config) : parseCentralConfig({});
      } catch (error) {
        if (error instanceof CentralConfigError) {
          console.error(error.message);
          process.exit(2);
        }
        throw error;
      }
      const logger = pino({ level: config.log.level });
      const running = await startCentral(config, { clock: { now: () => new Date() }, logger });
      console.log(`dashboard  ${running.httpUrl}`);
      console.log(`API        ${running.httpUrl}/api/docs`);
      console.log(`MQTT       ${running.brokerUrl}${running.mqttProtocolVersion === 4 ? ' (embedded, MQTT 3.1.1: gateways set mqtt.protocolVersion: 4)' : ''}`);
      const shutdown = (signal: string): void => {
        logger.info({ signal }, 'stopping');
        void running.close().then(() => process.exit(0));
      };
      process.once('SIGTERM', () => shutdown('SIGTERM'));
      process.once('SIGINT', () => shutdown('SIGINT'));
    });
}
