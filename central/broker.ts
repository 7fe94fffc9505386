// The embedded broker (aedes) for a pilot of a few branches on one box. It speaks MQTT 3.1.1 only (aedes has no
// MQTT 5 yet), so gateways that use it set `mqtt.protocolVersion: 4`; commands are then matched by their id
// instead of correlation data. A real estate runs Mosquitto or a clustered broker instead (docs/central.md).
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Aedes, type AedesOptions } from 'aedes';
import type { Logger } from 'pino';

export interface EmbeddedBroker {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startEmbeddedBroker(options: {
  host: string;
  port: number;
  logger?: Logger;
  /** Hooks for tests (holding PUBACKs, refusing clients). */
  aedes?: AedesOptions;
}): Promise<EmbeddedBroker> {
  const broker = await Aedes.createBroker(options.aedes);
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    // Small MQTT packets both ways: without this, Nagle and delayed ACKs add tens of milliseconds per round trip.
    socket.setNoDelay(true);
    socket.on('close', () => sockets.delete(socket));
    broker.handle(socket);
  });
  broker.on('clientError', (client, err) => options.logger?.debug({ client: client.id, err: err.message }, 'mqtt client error'));
  broker.on('connectionError', (_client, err) => options.logger?.debug({ err: err.message }, 'mqtt connection error'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  let closed = false;
  return {
    url: `mqtt://${host}:${port}`,
    port,
    async close() {
      if (closed) return;
      closed = true;
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
