// The answers the member routes share (PATCH /members, PUT /members/pin, POST /phone-tokens): central without a
// member list, and a card number that is not one or that the list does not hold.
import type { FastifyReply } from 'fastify';
import { CardIdError } from '../../policies/cards.js';
import { UnknownCardError } from '../members/service.js';
import { invalidRequest } from './zod-route.js';

/** 503: central has no deployment key, so no member list. */
export const noMemberList = (reply: FastifyReply) =>
  reply.code(503).send({ error: 'Service Unavailable', message: 'central has no deployment key: no member list' });

/** The reply for a card number the routes cannot take (400 not a card number, 404 not held), or undefined for another error. */
export function cardProblem(reply: FastifyReply, err: unknown): FastifyReply | undefined {
  if (err instanceof CardIdError) return reply.code(400).send(invalidRequest([`cardNumber: ${err.message}`]));
  if (err instanceof UnknownCardError) return reply.code(404).send({ error: 'Not Found', message: err.message });
  return undefined;
}
