// `oag central mqtt-acl [--prefix oa/v1]`: Mosquitto's acl_file, rendered from the rules the embedded broker applies
// (policies/contract/acl.ts), so a real estate's broker confines each branch exactly as the pilot's did.
import type { Command } from 'commander';
import { renderMosquittoAcl } from '../../policies/contract/acl.js';
import { checkPrefix, DEFAULT_PREFIX } from '../../policies/contract/topics.js';
import { runCommand, UsageError } from './cli-errors.js';
import { processIo, type CommandIo } from './schedule.js';

/** Exit status: 0 printed, 2 a prefix that cannot be a topic's first levels. */
export function runCentralMqttAcl(options: { prefix?: string | undefined }, io: CommandIo = processIo): Promise<number> {
  return runCommand(
    io,
    async () => {
      const prefix = options.prefix ?? DEFAULT_PREFIX;
      try {
        checkPrefix(prefix);
      } catch (error) {
        throw new UsageError(`--prefix: ${(error as Error).message}`);
      }
      io.out(renderMosquittoAcl(prefix));
    },
    () => false,
  );
}

/** `oag central mqtt-acl`, under `central`. */
export function registerCentralMqttAcl(central: Command): void {
  central
    .command('mqtt-acl')
    .description("print Mosquitto's ACL file (acl_file): each site reaches only its own topics, central every one")
    .option('--prefix <prefix>', 'the MQTT topic prefix (the gateways\' and central\'s mqtt prefix)', DEFAULT_PREFIX)
    .addHelpText('after', '\nExample: oag central mqtt-acl > /etc/mosquitto/oag.acl, then reload Mosquitto (SIGHUP).\nExit status: 0 printed, 2 usage.')
    .action(async (options: { prefix?: string }) => {
      process.exitCode = await runCentralMqttAcl(options);
    });
}
