// The Koha feed put together for central/main.ts: the secret read from its file (an unusable one stops central
// with the field named), the client, the mapping, the mark where the member list is and the poller, which hands each
// poll's changes to CentralMembers.applyChanges as one version and raises `lms-feed-failed` when Koha keeps failing.
import type { Database as Db } from 'better-sqlite3';
import type { PgPool } from '../../pg/pool.js';
import type { Logger } from 'pino';
import { createCardHasher } from '../../../policies/cards.js';
import { parseMemberFields } from '../../../policies/member-list.js';
import type { TallyClock } from '../../../kit/refusal-tally.js';
import { readSecretFile } from '../../alerts/channels/secret-file.js';
import type { CentralMembers } from '../service.js';
import { KohaClient } from './client.js';
import type { KohaFeedConfig } from './config.js';
import { PgFeedMarks, SqliteFeedMarks } from './feed-mark.js';
import { createKohaMapping } from './mapping.js';
import { KohaPoller, type KohaPollerDeps } from './poller.js';

export function createKohaFeed(deps: {
  config: KohaFeedConfig;
  db: Db;
  /** Where the member list is shared by several instances (null: central's SQLite file): the mark is kept there too. */
  pool?: PgPool | null | undefined;
  /** The deployment key: a card is looked up at central by its hash, as the list keeps it. */
  key: Buffer;
  members: Pick<CentralMembers, 'applyChanges' | 'store'>;
  problem: KohaPollerDeps['problem'];
  clock: { now(): Date };
  logger: Logger;
  tallyClock?: TallyClock;
}): KohaPoller {
  const { config, members } = deps;
  const secret = readSecretFile(config.clientSecretFile, 'members.koha.clientSecretFile');
  if (!secret.ok) throw new Error(secret.error);
  const client = new KohaClient({
    url: config.url,
    auth: config.auth,
    clientId: config.clientId,
    secret: secret.value,
    perPage: config.perPage,
    timeoutMs: config.timeoutSeconds * 1000,
    embedAttributes: config.registeredAttribute !== undefined || config.cardUidsAttribute !== undefined,
    clock: deps.clock,
  });
  const hash = createCardHasher(deps.key);
  return new KohaPoller({
    changedSince: (since) => client.changedSince(since),
    mapping: createKohaMapping(config),
    marks: deps.pool ? new PgFeedMarks(deps.pool) : new SqliteFeedMarks(deps.db),
    current: async (cardNumber) => {
      const cardHash = hash(cardNumber);
      const fields = await members.store.heldFields(cardHash);
      return fields === undefined ? undefined : parseMemberFields(fields);
    },
    apply: async (changes, source) => ({ version: (await members.applyChanges(changes, { source })).version?.version ?? null }),
    config,
    problem: deps.problem,
    clock: deps.clock,
    logger: deps.logger,
    tallyClock: deps.tallyClock,
  });
}
