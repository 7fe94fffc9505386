// Broker outages and kill -9 of the gateway while taps go on, then the count: what the gateway generated (the ids
// in its store, across every restart) against what central stored.
//
//   lost          an id in the gateway's store that central never stored
//   phantom       an id central stored that the gateway's store does not hold (written, acknowledged, then lost)
//   unanswered    a tap the gateway answered (so its event was on disk) whose access event is not in the store
//   twice         a tap whose access event is in the store more than once (each tap is a different card)
//
// Each tap uses a card never tapped before, so a tap and its access event are matched by the card's pseudonym.
import Database from 'better-sqlite3';
import { createCardHasher, normaliseCardId } from '../../gateway/core/cards.js';
import { readSiteSecret } from '../../gateway/core/site-pseudonym.js';
import { openStore } from '../../gateway/store/index.js';
import { createPseudonymizer } from '../../policies/pseudonym.js';
import { GatewayProcess, TEST_KEY_HEX, centralEventIds, loggedEventIds, memberCard, missingFrom, sleep, storeEvents, until } from '../../test/helpers/gateway-process.js';
import type { RunningMosquitto } from '../../test/helpers/mosquitto.js';

export interface FaultCounts {
  outages: number;
  kills: number;
  taps: number;
  answered: number;
  generated: number;
  atCentral: number;
  lost: number;
  phantom: number;
  unanswered: number;
  twice: number;
  loggedNotStored: number;
  wireDuplicates: number;
  crashes: number;
  notes: string[];
}

export interface FaultRig {
  broker: RunningMosquitto;
  centralUrl: string;
  /** An API token's header: central answers nobody without one. */
  centralAuth: Record<string, string>;
  centralStore: string;
  site: string;
  storePath: string;
  config: string;
  port: number;
  logPath: string;
  /** Members seeded in the store: member cards 0…members-1 are granted. */
  members: number;
}

/** Taps in the background, each with a card never used before; every other one is a member (granted). */
class Tapper {
  private running = false;
  private loop: Promise<void> | undefined;
  private n = 0;
  readonly sent = new Map<string, number>();
  readonly answered = new Map<string, number>();
  private readonly hash = createCardHasher(Buffer.from(TEST_KEY_HEX, 'hex'));

  constructor(
    private readonly port: () => number,
    private readonly members: number,
    /** The gateway's own pseudonyms (its site secret), to find each tap's access event. */
    private readonly pseudonym: (cardHash: Buffer) => string,
  ) {}

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await this.tapOnce();
        await sleep(5);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  get count(): number {
    return this.n;
  }

  private async tapOnce(): Promise<void> {
    const i = this.n++;
    const uid = i % 2 === 0 && i / 2 < this.members ? memberCard(i / 2) : `FA${i.toString(16).toUpperCase().padStart(10, '0')}`;
    const person = this.pseudonym(this.hash(normaliseCardId(uid)));
    this.sent.set(person, (this.sent.get(person) ?? 0) + 1);
    try {
      const response = await fetch(`http://127.0.0.1:${this.port()}/api/simulate/tap`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ uid }),
        signal: AbortSignal.timeout(5000),
      });
      if (response.status === 200) this.answered.set(person, (this.answered.get(person) ?? 0) + 1);
      await response.arrayBuffer();
    } catch {
      // The gateway is down (killed): the tap was never decided, so it left no event to count.
      await sleep(20);
    }
  }
}

/** Events not yet acknowledged by the broker: a count, not the rows (the store grows to tens of thousands). */
function unpublished(storePath: string): number {
  try {
    const db = new Database(storePath, { readonly: true, fileMustExist: true });
    try {
      return (db.prepare('SELECT COUNT(*) AS n FROM events WHERE published = 0').get() as { n: number }).n;
    } finally {
      db.close();
    }
  } catch {
    return -1;
  }
}

/**
 * Runs outages then kills until each target or its deadline; then drains, and counts. `log` gets a line now and
 * then so that a long run shows it is alive.
 */
export async function runFaults(
  rig: FaultRig,
  targets: { outages: number; kills: number },
  /** When each part must end, asked as it starts (so that time left over by one goes to the next). */
  deadline: (part: 'outages' | 'kills' | 'drain') => number,
  log: (line: string) => void,
  rand: () => number,
): Promise<FaultCounts> {
  const counts: FaultCounts = {
    outages: 0,
    kills: 0,
    taps: 0,
    answered: 0,
    generated: 0,
    atCentral: 0,
    lost: 0,
    phantom: 0,
    unanswered: 0,
    twice: 0,
    loggedNotStored: 0,
    wireDuplicates: 0,
    crashes: 0,
    notes: [],
  };
  let gateway = await GatewayProcess.start({ config: rig.config, port: rig.port, logPath: rig.logPath });
  const tapper = new Tapper(() => rig.port, rig.members, gatewayPseudonym(rig.storePath));
  tapper.start();
  const unexpectedExit = (): void => {
    if (!gateway.running && gateway.child.signalCode !== 'SIGKILL') {
      counts.crashes += 1;
      counts.notes.push(`gateway exited by itself (${gateway.child.exitCode ?? gateway.child.signalCode}); log tail:\n${gateway.logTail(20)}`);
    }
  };
  const restart = async (): Promise<void> => {
    gateway = await GatewayProcess.start({ config: rig.config, port: rig.port, logPath: rig.logPath });
  };

  try {
    const outagesEnd = deadline('outages');
    // Outages: the broker stops (SIGTERM, as an update or a reboot of the broker's host) while taps go on, and
    // comes back; the outbox must be drained after each before the next, or it would only be one long outage.
    while (counts.outages < targets.outages && (Date.now() < outagesEnd || counts.outages < 1)) {
      await sleep(100 + Math.floor(rand() * 400));
      await rig.broker.kill();
      await sleep(200 + Math.floor(rand() * 800));
      await rig.broker.restart();
      counts.outages += 1;
      await until(() => unpublished(rig.storePath) === 0 || !gateway.running, 'the outbox to drain after an outage', 120_000, 100).catch((error: unknown) => {
        counts.notes.push(`outage ${counts.outages}: ${(error as Error).message} (${unpublished(rig.storePath)} unpublished)`);
      });
      if (!gateway.running) {
        unexpectedExit();
        await restart();
      }
      if (counts.outages % 10 === 0) log(`  broker outages: ${counts.outages}, taps so far ${tapper.count}`);
    }

    // kill -9 while taps are being decided and events published.
    const killsEnd = deadline('kills');
    while (counts.kills < targets.kills && (Date.now() < killsEnd || counts.kills < 1)) {
      await sleep(100 + Math.floor(rand() * 700));
      if (!gateway.running) unexpectedExit();
      await gateway.stop('SIGKILL');
      counts.kills += 1;
      await restart();
      if (counts.kills % 20 === 0) log(`  kill -9: ${counts.kills}, taps so far ${tapper.count}`);
    }
  } finally {
    await tapper.stop();
  }

  // Everything out, then one last kill so that no stop event is left waiting in the outbox.
  if (!gateway.running) {
    unexpectedExit();
    await restart();
  }
  await until(() => unpublished(rig.storePath) === 0, 'the outbox to drain at the end', Math.max(30_000, deadline('drain') - Date.now()), 200).catch((error: unknown) => {
    counts.notes.push(`${(error as Error).message}: ${unpublished(rig.storePath)} events still unpublished`);
  });
  const rows = storeEvents(rig.storePath);
  const stored = rows.map((r) => r.id);
  await until(() => missingFrom(stored, centralEventIds(rig.centralStore, rig.site)).length === 0, 'central to store every published event', 60_000, 200).catch(() => {});
  await gateway.stop('SIGKILL');

  const atCentral = centralEventIds(rig.centralStore, rig.site);
  const perPerson = new Map<string, number>();
  for (const row of rows) {
    if (row.type !== 'access') continue;
    const person = (JSON.parse(row.data) as { person?: string }).person;
    if (person !== undefined) perPerson.set(person, (perPerson.get(person) ?? 0) + 1);
  }
  counts.taps = tapper.count;
  counts.answered = [...tapper.answered.values()].reduce((a, b) => a + b, 0);
  counts.generated = stored.length;
  counts.atCentral = atCentral.length;
  counts.lost = missingFrom(stored, atCentral).length;
  counts.phantom = missingFrom(atCentral, stored).length;
  for (const [person, n] of tapper.answered) if ((perPerson.get(person) ?? 0) < n) counts.unanswered += n - (perPerson.get(person) ?? 0);
  for (const [person, n] of perPerson) if (n > (tapper.sent.get(person) ?? 0)) counts.twice += n - (tapper.sent.get(person) ?? 0);
  counts.loggedNotStored = missingFrom(new Set(loggedEventIds(rig.logPath, rig.site)), stored).length;
  const stats = (await (await fetch(`${rig.centralUrl}/api/stats`, { headers: rig.centralAuth })).json()) as { ingest?: { duplicates?: number } };
  counts.wireDuplicates = stats.ingest?.duplicates ?? 0;
  if (counts.lost > 0) counts.notes.push(`lost (first 5): ${missingFrom(stored, atCentral).slice(0, 5).join(', ')}`);
  if (counts.phantom > 0) counts.notes.push(`at central, not in the store (first 5): ${missingFrom(atCentral, stored).slice(0, 5).join(', ')}`);
  return counts;
}

/** The pseudonyms the gateway writes: keyed with the secret it made at its first start and keeps in its store. */
function gatewayPseudonym(storePath: string): (cardHash: Buffer) => string {
  const store = openStore(storePath, { readonly: true });
  try {
    const secret = readSiteSecret(store.settings);
    if (secret === undefined) throw new Error(`${storePath}: the gateway has not made its pseudonym secret`);
    return createPseudonymizer(secret);
  } finally {
    store.close();
  }
}
