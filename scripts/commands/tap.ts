import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('tap')
    .description("play a card on a running gateway's simulated reader")
    .argument('<uid>', 'card UID (hex) or card number')
    .option('-u, --url <url>', "the gateway's local API", 'http://127.0.0.1:8080')
    .option('-r, --reader <id>', 'simulated reader id (default: the entry reader)')
    .action(async (uid: string, options: { url: string; reader?: string }) => {
      let response: Response;
      try {
        response = await fetch(new URL('/api/simulate/tap', options.url), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ uid, ...(options.reader === undefined ? {} : { reader: options.reader }) }),
          signal: AbortSignal.timeout(5000),
        });
      } catch (error) {
        console.error(`oag tap: no gateway answering at ${options.url} (${(error as Error).message}); is \`oag gateway\` running?`);
        process.exit(1);
      }
      let body: Record<string, unknown>;
      try {
        body = (await response.json()) as Record<string, unknown>;
      } catch {
        // Something else answers on that port (another service, a proxy's error page).
        console.error(`oag tap: ${options.url} answered HTTP ${response.status} with something that is not JSON; is that a gateway?`);
        process.exit(1);
      }
      if (!response.ok) {
        console.error(`oag tap: ${String(body.error)}${Array.isArray(body.errors) ? `\n  ${body.errors.join('\n  ')}` : ''}`);
        process.exit(1);
      }
      console.log(JSON.stringify(body));
    });
}
