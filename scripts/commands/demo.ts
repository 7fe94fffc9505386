import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('demo', { isDefault: false })
    .description('replay a day at a demo branch on simulated hardware (what `npm start` runs)')
    .option('--speed <n>', 'times faster than real time', '300')
    .option('--members <n>', 'generated members per branch', '3000')
    .option('--visits <n>', 'visitors in the day', '140')
    .option('--date <yyyy-mm-dd>', 'the day to replay (local date; a Tuesday shows the hub\'s scout booking)', '2026-11-24')
    .option('--no-central', 'run the branches alone, without central and its broker')
    .option('--port <n>', "central dashboard's port", '8090')
    .option('--console-port <n>', "first branch console's port (one per branch)", '8081')
    .option('--keep', 'keep the demo folder (store, config, member CSV) after the run', false)
    .option('--quiet', 'announcements printed only, never played on the sound card (or OAG_DEMO_SOUND=0)', false)
    .action(async (options: { speed: string; members: string; visits: string; date: string; keep: boolean; central: boolean; port: string; consolePort: string; quiet: boolean }) => {
      const { runDemo } = await import('../demo/run.js');
      const number = (name: string, value: string, min: number, max: number): number => {
        const n = Number(value);
        if (!Number.isFinite(n) || n < min || n > max) {
          console.error(`oag demo: --${name} must be a number from ${min} to ${max}`);
          process.exit(2);
        }
        return n;
      };
      await runDemo({
        speed: number('speed', options.speed, 1, 10_000),
        members: number('members', options.members, 10, 2_000_000),
        visits: number('visits', options.visits, 0, 100_000),
        date: options.date,
        keep: options.keep,
        central: options.central,
        httpPort: number('port', options.port, 0, 65535),
        consolePort: number('console-port', options.consolePort, 0, 65535),
        sound: !options.quiet && process.env.OAG_DEMO_SOUND !== '0',
      });
    });
}
