// One shape for every error answer: `{ error, errors? }`, where `errors` names fields (`policy.schedule…: …`).
// A body that is not JSON, or not sent as JSON, is named as such; anything unexpected is a 500 that says nothing
// more (the details go to the log, which never holds a request body).
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { describeStorageError } from '../core/storage-faults.js';
import { HashingBusyError } from '../../kit/auth/hash-slots.js';

/** Seconds a client is told to wait when every password-hashing slot is taken: one hash takes tens of milliseconds. */
export const BUSY_RETRY_SECONDS = 2;

export function errorHandler(logger: Logger | undefined) {
  return (error: FastifyError & { error?: string }, request: FastifyRequest, reply: FastifyReply): void => {
    if (error instanceof HashingBusyError) {
      // Nothing was hashed and nothing changed; the door's cores were not asked for more.
      logger?.info({ method: request.method, route: request.routeOptions.url, reason: 'hashing slots full' }, 'sign-in busy');
      void reply.code(503).header('retry-after', String(BUSY_RETRY_SECONDS)).send({ error: error.message });
      return;
    }
    const status = error.statusCode ?? 500;
    if (typeof error.code === 'string' && error.code.startsWith('SQLITE_')) {
      // The store, not the request: say what is wrong and that it passes (the door goes on regardless).
      logger?.warn({ err: { message: error.message, code: error.code }, method: request.method, route: request.routeOptions.url }, 'store fault in a console request');
      void reply
        .code(503)
        .header('retry-after', '5')
        .send({ error: `the branch's store cannot answer now: ${describeStorageError(error)}; nothing was changed, try again in a moment` });
      return;
    }
    if (status >= 500) {
      logger?.error({ err: { message: error.message, code: error.code }, method: request.method, route: request.routeOptions.url }, 'request failed');
      void reply.code(500).send({ error: 'internal error' });
      return;
    }
    if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      void reply.code(415).send({ error: 'send the body as JSON (content-type: application/json)' });
      return;
    }
    if (error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error instanceof SyntaxError) {
      void reply.code(400).send({ error: 'invalid request', errors: ['(body): not valid JSON'] });
      return;
    }
    void reply.code(status).send({ error: error.error ?? error.message });
  };
}
