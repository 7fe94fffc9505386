// One shape for every error answer: `{ error, errors? }`, where `errors` names fields (`policy.schedule…: …`).
// A body that is not JSON, or not sent as JSON, is named as such; anything unexpected is a 500 that says nothing
// more (the details go to the log, which never holds a request body).
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';

export function errorHandler(logger: Logger | undefined) {
  return (error: FastifyError & { error?: string }, request: FastifyRequest, reply: FastifyReply): void => {
    const status = error.statusCode ?? 500;
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
