// Every `pollSeconds`, the patrons Koha changed since the newest change already applied (less a few seconds of
// overlap) become ONE member-list version, announced at once. The mark is kept in central's database only after the
// version is committed; a poll that fails leaves it where it was, so the next one asks again and nothing is lost
// (applying the same patrons twice changes nothing). A failing Koha is logged (the first failure of a kind in full,
// then a count every few minutes), and after `failuresBeforeIncident` polls in a row it is an incident; the rest of
// central goes on as before. One poller for the estate: it runs on the leader only (central/main.ts), and on
// PostgreSQL its mark is shared, so a new leader goes on from where the last one stopped.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { RefusalTally, type TallyClock } from '../../../kit/refusal-tally.js';
import { CardIdError, normaliseCardId } from '../../../policies/cards.js';
import type { Member } from '../../../policies/types.js';
import { KohaError, type KohaPage } from './client.js';
import type { FeedMarks } from './feed-mark.js';
import type { KohaChange, KohaMapping, KohaSkip } from './mapping.js';
import { formatRfc3339, offsetMinutes } from './rfc3339.js';

export const KOHA_FEED = 'koha';
const LOG_INTERVAL_MS = 5 * 60_000;

export interface KohaPollerDeps {
  changedSince(since: string): AsyncIterable<KohaPage>;
  mapping: KohaMapping;
  marks: FeedMarks;
  /** The member central holds for a card now (listed or not), for what Koha does not say. */
  current(cardNumber: string): Promise<Member | undefined>;
  /** Makes the changes one version; null when the list did not change. */
  apply(changes: KohaChange[], source: string): Promise<{ version: number | null }>;
  config: { pollSeconds: number; overlapSeconds: number; failuresBeforeIncident: number };
  /** Koha has failed `failuresBeforeIncident` polls in a row (raised once), and answers again (cleared). */
  problem: { raise(reason: string): void; clear(): void };
  clock: { now(): Date };
  logger: Logger;
  tallyClock?: TallyClock;
}

export interface PollResult {
  /** Patrons Koha returned (the overlap included). */
  patrons: number;
  /** Changes handed on (patrons new since the last poll, with a card). */
  changes: number;
  skipped: Partial<Record<KohaSkip, number>>;
  version: number | null;
  mark: string;
}

export class KohaPoller {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private stopped = true;
  private failures = 0;
  private raised = false;
  /** Patrons (updated_on@digest) applied within the last mark's overlap: asked again next poll, not applied again. */
  private boundary = new Set<string>();
  private readonly tally: RefusalTally<string>;
  private readonly log: Logger;

  constructor(private readonly deps: KohaPollerDeps) {
    this.log = deps.logger.child({ module: 'koha' });
    this.tally = new RefusalTally<string>({
      intervalMs: LOG_INTERVAL_MS,
      clock: deps.tallyClock,
      onSummary: ({ count, since, last }) => this.log.warn({ failedPolls: count, since: since.toISOString(), reason: last }, 'Koha polls still failing'),
    });
  }

  /** Polls now, then every pollSeconds (on the leader: central/main.ts starts it on lead and stops it on loss). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
    this.tally.stop();
  }

  /** One poll now (the timer's, or a test's), after the one running. Throws what failed, after counting it. */
  poll(): Promise<PollResult> {
    const run = (this.running ?? Promise.resolve()).catch(() => undefined).then(() => this.pollOnce()).then(
      (result) => {
        this.succeeded();
        return result;
      },
      (error: unknown) => {
        this.failed(error);
        throw error;
      },
    );
    this.running = run;
    return run;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.poll()
        .catch(() => undefined)
        .finally(() => this.schedule(this.deps.config.pollSeconds * 1000));
    }, ms);
    this.timer.unref();
  }

  private async pollOnce(): Promise<PollResult> {
    const { marks, clock, config } = this.deps;
    let mark = await marks.get(KOHA_FEED);
    if (mark === null) {
      // A first start: the nightly export is the baseline, and changes count from now.
      mark = formatRfc3339(clock.now().getTime(), 0);
      await marks.set(KOHA_FEED, mark, clock.now());
      this.log.info({ mark }, 'Koha poller starts from now: the last full export is the list until then');
    }
    const since = formatRfc3339(Date.parse(mark) - config.overlapSeconds * 1000, offsetMinutes(mark));
    const byCard = new Map<string, KohaChange>();
    const skipped: Partial<Record<KohaSkip, number>> = {};
    const seen = new Set<string>();
    let newest = { ms: Date.parse(mark), text: mark };
    let patrons = 0;
    let firstTotal: number | null | undefined;
    let consistent = true;
    for await (const page of this.deps.changedSince(since)) {
      if (firstTotal === undefined) firstTotal = page.total;
      else if (page.total !== firstTotal) consistent = false;
      for (const patron of page.patrons) {
        patrons++;
        // Koha's updated_on has whole seconds: a second change within the same second differs only in content.
        const key = `${patron.updated_on}@${createHash('sha256').update(JSON.stringify(patron)).digest('base64')}`;
        seen.add(key);
        const at = Date.parse(patron.updated_on);
        if (at > newest.ms) newest = { ms: at, text: patron.updated_on };
        if (this.boundary.has(key)) continue;
        // The mapping asks for the member central holds by the card number it normalises: read here, before it asks.
        const before = await this.heldFor(patron.cardnumber);
        const mapped = this.deps.mapping.map(patron, () => before);
        if (!mapped.ok) skipped[mapped.skip] = (skipped[mapped.skip] ?? 0) + 1;
        // Oldest change first: a patron changed twice in one poll ends as Koha has them now.
        else byCard.set(mapped.change.cardNumber, mapped.change);
      }
    }
    const changes = [...byCard.values()];
    const { version } = changes.length > 0 ? await this.deps.apply(changes, 'koha:poll') : { version: null };
    // Patrons changed while the pages were walked may have shifted between pages: ask again from the same mark.
    const next = consistent ? newest.text : mark;
    await marks.set(KOHA_FEED, next, clock.now());
    const keepFrom = Date.parse(next) - config.overlapSeconds * 1000;
    this.boundary = new Set([...seen].filter((key) => Date.parse(key.slice(0, key.indexOf('@'))) >= keepFrom));
    if (changes.length > 0 || Object.keys(skipped).length > 0) {
      this.log.info({ patrons, changes: changes.length, skipped, version, mark: next }, 'Koha changes applied');
    }
    return { patrons, changes: changes.length, skipped, version, mark: next };
  }

  /** The member central holds for a patron's card number as the mapping normalises it (none for an unusable one). */
  private async heldFor(raw: string | null | undefined): Promise<Member | undefined> {
    let cardNumber: string;
    try {
      cardNumber = normaliseCardId(raw ?? '');
    } catch (error) {
      if (error instanceof CardIdError) return undefined;
      throw error;
    }
    return this.deps.current(cardNumber);
  }

  private succeeded(): void {
    if (this.failures > 0) this.log.info({ afterFailedPolls: this.failures }, 'Koha answers again');
    this.failures = 0;
    if (this.raised) {
      this.raised = false;
      this.deps.problem.clear();
    }
  }

  private failed(error: unknown): void {
    this.failures++;
    const reason = describe(error);
    const kind = error instanceof KohaError ? error.kind : 'other';
    if (this.tally.admit(kind, reason)) this.log.warn({ reason, failedPolls: this.failures }, 'Koha poll failed; the list stays as it is and the next poll asks again');
    if (!this.raised && this.failures >= this.deps.config.failuresBeforeIncident) {
      this.raised = true;
      this.deps.problem.raise(`${this.failures} polls of Koha failed in a row: ${reason}`);
    }
  }
}

function describe(error: unknown): string {
  if (error instanceof KohaError) return error.message;
  // A refusal by the list itself (too many removals) or the database: its message names no member.
  return (error as Error).message ?? String(error);
}
