import type { Command } from 'commander';

export interface CommandModule {
  register(program: Command): void;
}

// Each module only declares its command; the heavy parts (SQLite, MQTT, fastify) are imported inside its action,
// so that `oag schedule` or `oag check-config` start quickly.
const modules = ['./schedule.js', './check-config.js', './members.js', './gateway.js', './tap.js', './demo.js', './bench.js', './central.js', './users.js', './outputs-safe.js', './boot-config.js', './seal-key.js', './sounds.js', './doctor.js', './commission.js'];

export async function commandModules(): Promise<CommandModule[]> {
  return Promise.all(modules.map(async (path) => (await import(path)) as CommandModule));
}
