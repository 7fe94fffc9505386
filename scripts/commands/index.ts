import type { Command } from 'commander';

export interface CommandModule {
  register(program: Command): void;
}

// Loaded on demand so that `oag schedule` does not pay for SQLite, MQTT or fastify.
const modules = ['./schedule.js', './check-config.js', './members.js', './gateway.js', './tap.js', './demo.js', './bench.js', './central.js'];

export async function commandModules(): Promise<CommandModule[]> {
  const loaded: CommandModule[] = [];
  for (const path of modules) {
    try {
      loaded.push((await import(path)) as CommandModule);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String((error as Error).message).includes(path.slice(2, -3))) continue;
      throw error;
    }
  }
  return loaded;
}
