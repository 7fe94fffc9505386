import { Readable } from 'node:stream';
import { Store } from 'mqtt';

/**
 * mqtt.js keeps unacknowledged publishes in its outgoing store and replays them after a reconnect. The gateway
 * does not want that: the SQLite outbox is the only truth (it survives restarts, this store does not), and a
 * replay would send every in-flight event twice and out of order with the outbox pump. So nothing is replayed;
 * everything not acknowledged is sent again from the outbox.
 */
export class NoReplayStore extends Store {
  override createStream(): ReturnType<Store['createStream']> {
    // node:stream's Readable is what readable-stream re-exports in shape; mqtt.js only reads, waits for 'end', destroys.
    return Readable.from([]) as unknown as ReturnType<Store['createStream']>;
  }
}
