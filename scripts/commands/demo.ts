import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('demo', { isDefault: false })
    .description('replay a day at a demo branch on simulated hardware (what `npm start` runs)')
    .option('--speed <n>', 'times faster than real time', '900')
    .option('--members <n>', 'generated members per branch', '3000')
    .option('--visits <n>', 'visitors in the day', '140')
    .option('--date <yyyy-mm-dd>', 'the day to replay (local date)', '2026-11-23')
    .option('--keep', 'keep the demo folder (store, config, member CSV) after the run', false)
    .action(async (options: { speed: string; members: string; visits: string; date: string; keep: boolean }) => {
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
      });
    });
}
