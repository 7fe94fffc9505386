// The gateway's local HTTP API (loopback by default): state for scripts and monitoring, and the simulated
// reader's tap for `oag tap`. The staff console is registered here as its own plugin.
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Hardware } from '../../firmware-bridge/types.js';
import { formatIssues } from '../../policies/errors.js';
import type { GatewayConfig } from '../config.js';
import type { Gateway } from '../controller.js';

export interface LocalApi {
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

export const SimulatedTapSchema = z.strictObject({
  uid: z.string().min(1).max(64),
  reader: z.string().min(1).max(64).optional(),
});

export function buildLocalApi(deps: { gateway: Gateway; hardware: Hardware }): FastifyInstance {
  // Request logging off: a tap's body holds a card number, and URLs may too.
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });
  app.get('/api/health', async () => ({ ok: true }));
  app.get('/api/state', async () => deps.gateway.state);
  app.post('/api/simulate/tap', async (request, reply) => {
    const reader = deps.hardware.simulated?.reader;
    if (reader === undefined) return reply.code(404).send({ error: 'no simulated reader on this gateway' });
    const body = SimulatedTapSchema.safeParse(request.body);
    if (!body.success) return reply.code(400).send({ error: 'invalid body', errors: formatIssues(body.error) });
    if (body.data.reader !== undefined && !reader.readerIds.includes(body.data.reader)) {
      return reply.code(400).send({ error: 'invalid body', errors: [`reader: no simulated reader "${body.data.reader}" (have ${reader.readerIds.join(', ')})`] });
    }
    let outcome: unknown;
    const listener = (result: unknown): void => {
      outcome = result;
    };
    deps.gateway.bus.once('access', listener);
    let tap: ReturnType<typeof reader.tap>;
    try {
      tap = reader.tap(body.data.uid, body.data.reader);
    } catch (error) {
      // The reader's own normalisation refused it; its message names the problem, never the number.
      return reply.code(400).send({ error: 'invalid body', errors: [`uid: ${(error as Error).message}`] });
    } finally {
      deps.gateway.bus.off('access', listener);
    }
    if (tap === undefined) return reply.code(409).send({ error: 'that reader is offline' });
    if (outcome === undefined) return { result: 'ignored', why: 'a repeat of the same card within the repeat window, or an unreadable card' };
    const { decision, person } = outcome as { decision: { allow: boolean; reason: string; mode: string }; person: string | null };
    return { result: decision.allow ? 'granted' : 'refused', reason: decision.reason, mode: decision.mode, person };
  });
  return app;
}

export async function startLocalApi(deps: {
  gateway: Gateway;
  hardware: Hardware;
  config: GatewayConfig['http'];
  logger: Logger;
}): Promise<LocalApi> {
  const app = buildLocalApi(deps);
  const address = await app.listen({ host: deps.config.host, port: deps.config.port });
  deps.logger.info({ url: address }, 'local API listening');
  return { url: address, app, close: () => app.close() };
}
