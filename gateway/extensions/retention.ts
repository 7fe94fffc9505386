// Retention as an extension: access events and wrong-PIN counts older than the configured period are deleted,
// in batches so that the door's event loop is never held for long. Nothing is purged while the clock is not
// trusted: a clock years ahead would otherwise delete the whole log, unsent events included.
import type { Clock } from '../core/clock.js';
import type { Store } from '../store/index.js';
import { purgeInBatches } from '../store/purge.js';
import type { Extension, ExtensionContext } from './extension.js';

const CHECK_MS = 6 * 3600_000;

export class RetentionExtension implements Extension {
  readonly name = 'retention';
  private timer: ReturnType<typeof setInterval> | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly deps: {
      store: Store;
      clock: Clock;
      retentionDays: number;
      clockTrusted: () => boolean;
    },
  ) {}

  start(context: ExtensionContext): void {
    const run = (): void => {
      if (this.running !== undefined) return;
      this.running = this.purge(context)
        .then(() => undefined)
        .catch((error: unknown) => context.logger.warn({ err: { message: (error as Error).message } }, 'retention purge failed; tried again later'))
        .finally(() => {
          this.running = undefined;
        });
    };
    run();
    this.timer = setInterval(run, CHECK_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One pass; returns what was purged (undefined when skipped for the clock). */
  async purge(context: Pick<ExtensionContext, 'logger'>): Promise<{ events: number; pins: number } | undefined> {
    if (!this.deps.clockTrusted()) {
      context.logger.warn('retention purge skipped: the clock is not trusted');
      return undefined;
    }
    const cutoff = new Date(this.deps.clock.now().getTime() - this.deps.retentionDays * 86_400_000);
    const purged = await purgeInBatches(this.deps.store, cutoff);
    if (purged.events > 0) context.logger.info({ purged: purged.events, before: cutoff.toISOString() }, 'purged events past retention');
    return purged;
  }
}
