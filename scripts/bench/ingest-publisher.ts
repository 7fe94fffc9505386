// The ingest floor bench's publisher (scripts/bench/ingest-floor.ts), in a process of its own so that it neither
// shares central's event loop nor waits for it. It builds every payload first, connects one MQTT 5 client per site
// (each with its own login, as the ACL wants), says ready, and on "go" publishes with a window of QoS 1 messages in
// flight per site, so that a round trip per event does not make the publisher the bottleneck.
import { readFileSync } from 'node:fs';
import { connect, type MqttClient } from 'mqtt';

export interface PublisherJob {
  url: string;
  sites: readonly string[];
  events: number;
  password: string;
  tls: { ca: string; cert: string; key: string };
  /** QoS 1 publishes in flight per site: Mosquitto's default receive maximum. */
  window: number;
}

export type PublisherMessage =
  | { ready: true; connectMs: number; payloadBytes: number }
  | { done: true; ms: number; acked: number; failed: number; cpuMs: number }
  | { error: string };

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** ULID-shaped ids, unique within the run: the contract wants one, and central de-duplicates on it. */
function ulid(ms: number, seq: number): string {
  let t = ms;
  let head = '';
  for (let i = 0; i < 10; i++) {
    head = CROCKFORD[t % 32]! + head;
    t = Math.floor(t / 32);
  }
  let n = seq;
  let tail = '';
  for (let i = 0; i < 16; i++) {
    tail = CROCKFORD[n % 32]! + tail;
    n = Math.floor(n / 32);
  }
  return head + tail;
}

/** `events` spread over the sites (the first ones one more when it does not divide), each site's in order. */
export function buildPayloads(sites: readonly string[], events: number, at: Date): Buffer[][] {
  let seq = 0;
  return sites.map((site, i) => {
    const count = Math.floor(events / sites.length) + (i < events % sites.length ? 1 : 0);
    return Array.from({ length: count }, (_, k) =>
      Buffer.from(JSON.stringify({ id: ulid(at.getTime(), seq++), at: at.toISOString(), site, type: 'occupancy', change: 'entry', inside: k + 1 })),
    );
  });
}

async function connectAll(job: PublisherJob): Promise<MqttClient[]> {
  const secure = { ca: readFileSync(job.tls.ca), cert: readFileSync(job.tls.cert), key: readFileSync(job.tls.key) };
  const clients: MqttClient[] = [];
  // In batches: two hundred TLS handshakes at once are a thundering herd, not what is measured.
  for (let i = 0; i < job.sites.length; i += 50) {
    const batch = job.sites.slice(i, i + 50).map((site) =>
      connect(job.url, { protocolVersion: 5, clientId: `bench-pub-${site}`, reconnectPeriod: 0, username: site, password: job.password, ...secure }),
    );
    await Promise.all(batch.map((c) => new Promise((res, rej) => (c.once('connect', res), c.once('error', rej)))));
    clients.push(...batch);
  }
  return clients;
}

function publishAll(clients: MqttClient[], job: PublisherJob, payloads: Buffer[][]): Promise<{ acked: number; failed: number }> {
  let acked = 0;
  let failed = 0;
  let open = clients.length;
  return new Promise((resolve) => {
    clients.forEach((client, i) => {
      const topic = `oa/v1/sites/${job.sites[i]}/events`;
      const mine = payloads[i]!;
      let next = 0;
      let inFlight = 0;
      const pump = (): void => {
        while (inFlight < job.window && next < mine.length) {
          inFlight++;
          client.publish(topic, mine[next++]!, { qos: 1 }, (err) => {
            inFlight--;
            if (err) failed++;
            else acked++;
            if (next === mine.length && inFlight === 0) {
              if (--open === 0) resolve({ acked, failed });
            } else pump();
          });
        }
      };
      if (mine.length === 0) {
        if (--open === 0) resolve({ acked, failed });
      } else pump();
    });
  });
}

async function run(job: PublisherJob): Promise<void> {
  const send = (m: PublisherMessage): void => void process.send!(m);
  const payloads = buildPayloads(job.sites, job.events, new Date());
  const t0 = performance.now();
  const clients = await connectAll(job);
  send({ ready: true, connectMs: performance.now() - t0, payloadBytes: payloads.reduce((n, p) => n + p.reduce((m, b) => m + b.length, 0), 0) });
  await new Promise<void>((resolve) => process.once('message', () => resolve()));
  const cpu = process.cpuUsage();
  const started = performance.now();
  const { acked, failed } = await publishAll(clients, job, payloads);
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  send({ done: true, ms, acked, failed, cpuMs: (used.user + used.system) / 1000 });
  await Promise.all(clients.map((c) => c.endAsync()));
  process.disconnect();
}

if (process.send !== undefined && process.argv.includes('--publisher')) {
  process.once('message', (job: PublisherJob) => {
    run(job).catch((err: unknown) => {
      process.send!({ error: err instanceof Error ? err.message : String(err) } satisfies PublisherMessage, () => process.exit(1));
    });
  });
}
