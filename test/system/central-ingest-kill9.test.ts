// One central on SQLite (the embedded default's store) behind Debian's Mosquitto, killed -9 in the middle of an
// ingest: its link keeps up to 256 of its connection's messages in ingest at once and commits them in batches, so
// when it dies many are in flight, some committed and not yet acknowledged, some neither. Back on its client id, the
// broker sends again everything not acknowledged: every event is stored, and once. Counted, never timed.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IngestCommitStats } from '../../central/ingest.js';
import { makeSigningKeyFiles } from '../../central/signing-key.js';
import type { CentralChildJob, CentralChildMessage, CentralCommitsMessage } from '../../scripts/bench/ingest-central.js';
import type { PublisherJob, PublisherMessage } from '../../scripts/bench/ingest-publisher.js';
import { startMosquitto, type RunningMosquitto } from '../helpers/mosquitto.js';
import { until } from '../helpers/until.js';
import { childExited, forkBenchChild, nextMessage } from '../../scripts/bench/bench-child.js';

const CENTRAL_PASSWORD = 'central-kill9-pw';
const SITE_PASSWORD = 'site-kill9-pw';
const EVENTS = Number(process.env.OAG_FAULT_EVENTS ?? 20_000);
const sites = Array.from({ length: 50 }, (_, i) => `s${String(i).padStart(4, '0')}`);

describe('central on SQLite killed -9 in the middle of an ingest', () => {
  let dir: string;
  let broker: RunningMosquitto;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'oag-ingest-kill9-'));
    const users: Record<string, string> = { central: CENTRAL_PASSWORD };
    for (const site of sites) users[site] = SITE_PASSWORD;
    broker = await startMosquitto({ users, centralUser: 'central' });
  }, 60_000);
  afterAll(async () => {
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await childExited(c);
    }
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('stores every event once: those in flight when it died come again when it is back on its client id', async () => {
    const tls = { ca: broker.certs.ca, cert: broker.certs.clientCert, key: broker.certs.clientKey };
    const signing = makeSigningKeyFiles(dir);
    const dbFile = join(dir, 'central.sqlite');
    const startCentral = async (): Promise<ChildProcess> => {
      const child = forkBenchChild('ingest-central', '--central');
      children.push(child);
      const answer = nextMessage<CentralChildMessage>(child, 'central');
      const job: CentralChildJob = {
        config: {
          broker: { url: broker.url, username: 'central', password: CENTRAL_PASSWORD, tls, clientId: 'oag-central-kill9' },
          http: { port: 0 },
          store: { path: dbFile },
          signing: { keyFile: signing.keyFile },
        },
      };
      child.send(job);
      const m = await answer;
      if (!('ready' in m)) throw new Error(`central did not start: ${m.error}`);
      return child;
    };
    const commits = async (child: ChildProcess): Promise<IngestCommitStats> => {
      const answer = nextMessage<CentralCommitsMessage>(child, 'central');
      child.send('commits');
      return (await answer).commits;
    };
    let central = await startCentral();
    // Another connection on central's file: it sees what is committed, as central will after the kill.
    const reader = new Database(dbFile, { readonly: true });
    const stored = (): { rows: number; ids: number } => reader.prepare('SELECT COUNT(*) AS rows, COUNT(DISTINCT id) AS ids FROM events').get() as { rows: number; ids: number };

    try {
      const publisher = forkBenchChild('ingest-publisher', '--publisher');
      children.push(publisher);
      const ready = nextMessage<PublisherMessage>(publisher, 'the publisher');
      publisher.send({ url: broker.url, sites, events: EVENTS, password: SITE_PASSWORD, tls, window: 20 } satisfies PublisherJob);
      expect(await ready).toMatchObject({ ready: true });
      const done = nextMessage<PublisherMessage>(publisher, 'the publisher');
      publisher.send('go');

      await until(() => stored().rows >= EVENTS / 10, 'a tenth of the events stored', 300_000, 100);
      // Events were committed in batches: many of the connection's messages were in ingest at once.
      expect((await commits(central)).largest).toBeGreaterThan(1);
      central.kill('SIGKILL');
      await childExited(central);
      const killedAt = stored().rows;
      expect(killedAt).toBeLessThan(EVENTS);

      expect(await done).toMatchObject({ done: true, acked: EVENTS, failed: 0 });
      central = await startCentral();
      await until(() => stored().rows >= EVENTS, () => `all ${EVENTS} events stored (${stored().rows} so far)`, 600_000, 250);
      expect(stored()).toEqual({ rows: EVENTS, ids: EVENTS });
      // Those it had committed and not acknowledged when it died came again, and were counted as resends.
      expect((await commits(central)).events).toBeGreaterThanOrEqual(EVENTS - killedAt);
    } finally {
      reader.close();
    }
  }, 900_000);
});
