import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('bench')
    .description('print performance figures: tap-to-relay latency by member count, 1M import, memory')
    .option('--sizes <list>', 'member counts for the tap benchmark', '10000,100000,1000000')
    .option('--taps <n>', 'taps measured per size', '20000')
    .option('--import-rows <n>', 'rows for the import benchmark (0 to skip)', '1000000')
    .action(async (options: { sizes: string; taps: string; importRows: string }) => {
      const { benchTap } = await import('../bench/tap.js');
      const sizes = options.sizes.split(',').map((s) => Number(s.trim()));
      if (sizes.some((n) => !Number.isInteger(n) || n < 1)) {
        console.error('oag bench: --sizes must be a comma-separated list of positive whole numbers');
        process.exit(2);
      }
      console.log('tap → relay, in process, simulated drivers (µs)');
      console.log('members      taps   median    p99      max   unknown-card median   RSS MB');
      for (const size of sizes) {
        const r = await benchTap(size, Number(options.taps));
        console.log(
          `${String(r.members).padStart(9)} ${String(r.taps).padStart(7)} ${r.medianUs.toFixed(1).padStart(8)} ${r.p99Us.toFixed(1).padStart(7)} ${r.maxUs.toFixed(0).padStart(8)} ${r.unknownMedianUs.toFixed(1).padStart(12)} ${r.rssMb.toFixed(0).padStart(15)}`,
        );
      }
      const rows = Number(options.importRows);
      if (rows > 0) {
        const { benchImport } = await import('../bench/import.js');
        console.log(`\nmember CSV import (${rows} rows)`);
        console.log(JSON.stringify(await benchImport({ rows }), null, 2));
      }
    });
}
