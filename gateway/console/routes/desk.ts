// At the desk (docs/members.md, "At the desk"): staff link a member's new card, tapped at the desk reader, or set or
// remove the PIN the member types. Central owns the member list, so each change goes to central (the uplink's
// member-desk.ts) and comes back in its next list version; nothing changes here meanwhile. The card typed is the
// member's barcode: hashed at once like a lookup's; the PIN is scrypt-hashed at once and the digits dropped. The
// answers, the audit and the log name the member by this branch's pseudonym only.
import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { hashPinAsync } from '../../../policies/pin.js';
import { CardIdError, normaliseCardId } from '../../core/cards.js';
import { DESK_LINK_WAIT_MS, type DeskCapture, type DeskChangeAnswer, type DeskChangeRequest } from '../../core/desk-reader.js';
import type { ConsoleContext } from '../context.js';
import { LinkCardBodySchema, LinkIdParamsSchema, PinRemoveBodySchema, PinSetBodySchema } from '../schemas.js';
import { docs, ErrorSchema, zodValidate } from '../zod-route.js';

export const CENTRAL_UNREACHABLE = 'central is not reachable; nothing was changed';
export const CENTRAL_SILENT = 'central has not answered; the change may still be made — look the card up again in a minute';
const NO_MEMBER = "no member with that card on this branch's list";

/** A refusal by central: its words in `error`, its reason's name in `reason` (policies/contract/member-desk.ts). */
const RefusedSchema = ErrorSchema.extend({ reason: z.string().optional().describe("central's reason, e.g. card-taken") });

/** Where a link stands: waiting for the tap, tapped and sent, then one of the ends. */
export type LinkState = 'waiting' | 'tapped' | 'done' | 'refused' | 'expired' | 'offline' | 'no-answer';

interface Link {
  id: string;
  person: string;
  actor: string;
  readerId: string;
  state: LinkState;
  expiresAt: Date;
  /** What to tell staff, once there is something to tell. */
  message?: string | undefined;
  reason?: string | undefined;
  version?: number | null | undefined;
  capture: DeskCapture;
  createdAt: number;
}

/** Links kept for the page to read their end; older finished ones are forgotten. */
const MAX_LINKS = 64;
const KEEP_FINISHED_MS = 10 * 60_000;

type Hashed = { ok: true; cardHash: Buffer; person: string } | { ok: false; reply: FastifyReply };

/** The card number staff typed, hashed as the list keys it; else a 400 that names the problem, never the number. */
export function typedCardHash(ctx: Pick<ConsoleContext, 'hashCard'>, card: string, reply: FastifyReply): { ok: true; cardHash: Buffer } | { ok: false; reply: FastifyReply } {
  let normalised: string;
  try {
    normalised = normaliseCardId(card);
  } catch (error) {
    return { ok: false, reply: reply.code(400).send({ error: 'invalid request', errors: [`card: ${error instanceof CardIdError ? error.message : 'not a card number'}`] }) };
  }
  return { ok: true, cardHash: ctx.hashCard(normalised) };
}

export function deskRoutes(ctx: ConsoleContext): FastifyPluginAsync {
  const links = new Map<string, Link>();
  const desk = ctx.gateway.access.desk;

  /** The typed card as the list knows it: 400 when it is no card number, 404 when nobody on the list has it. */
  const member = (card: string, reply: FastifyReply): Hashed => {
    const typed = typedCardHash(ctx, card, reply);
    if (!typed.ok) return typed;
    const { cardHash } = typed;
    if (ctx.store.members.find(cardHash) === undefined) return { ok: false, reply: reply.code(404).send({ error: NO_MEMBER }) };
    return { ok: true, cardHash, person: ctx.gateway.pseudonym(cardHash) };
  };

  /** The member a change is for, when central can be asked now: when not, refused at once, before anything is armed or hashed. */
  const changeable = (card: string, reply: FastifyReply): Hashed => {
    const found = member(card, reply);
    if (found.ok && desk.changes?.connected !== true) return { ok: false, reply: reply.code(503).send({ error: CENTRAL_UNREACHABLE }) };
    return found;
  };

  const audit = (kind: string, person: string, outcome: string, actor: string): void => ctx.audit(`member-${kind}:${person}:${outcome}`, actor);

  const forget = (now: number): void => {
    for (const [id, link] of links) {
      const finished = link.state !== 'waiting' && link.state !== 'tapped';
      if (links.size > MAX_LINKS || (finished && now - link.createdAt > KEEP_FINISHED_MS)) links.delete(id);
    }
  };

  /** A waiting link past its 30 s: the reader is free again. */
  const view = (link: Link): Record<string, unknown> => {
    const now = ctx.clock.now().getTime();
    if (link.state === 'waiting' && now > link.expiresAt.getTime()) {
      desk.disarm(link.readerId, link.capture);
      link.state = 'expired';
      link.message = `no card was tapped at the desk reader within ${DESK_LINK_WAIT_MS / 1000} s; nothing was changed`;
    }
    const { id, person, state, expiresAt, message, reason, version } = link;
    // secondsLeft: the page counts down from it, not from expiresAt, which is on the gateway's clock.
    const secondsLeft = state === 'waiting' ? Math.max(0, Math.ceil((expiresAt.getTime() - now) / 1000)) : 0;
    return { id, person, state, expiresAt: expiresAt.toISOString(), secondsLeft, ...(message === undefined ? {} : { message }), ...(reason === undefined ? {} : { reason }), ...(version === undefined ? {} : { version }) };
  };

  /** The tapped card, after the tap's turn: refused here when the list already has it, else sent to central. */
  const linkTapped = async (link: Link, member: Buffer, card: Buffer): Promise<void> => {
    let listed: boolean;
    try {
      listed = ctx.store.members.find(card) !== undefined;
    } catch (err) {
      ctx.logger?.warn({ err: err instanceof Error ? err.message : String(err) }, 'desk link: the member list could not be read');
      link.state = 'refused';
      link.reason = 'store';
      link.message = "the branch's member list cannot be read now; nothing was sent: try again in a moment";
      audit('link-card', link.person, 'store', link.actor);
      return;
    }
    if (card.equals(member)) {
      link.state = 'refused';
      link.reason = 'own-card';
      link.message = 'that is the card the member was looked up by: it opens doors as them already; nothing was sent';
    } else if (listed) {
      link.state = 'refused';
      link.reason = 'card-on-list';
      link.message = "this card already opens doors on this branch's list (as this member's or another member's card); nothing was sent";
    } else {
      const answer = await send({ actor: link.actor, member, change: { kind: 'link-card', card } });
      link.state = answer.result;
      link.message = answerText(answer);
      if (answer.result === 'refused') link.reason = answer.reason;
      if (answer.result === 'done') link.version = answer.version;
    }
    audit('link-card', link.person, link.reason ?? link.state, link.actor);
  };

  /** Never throws: a change that could not be sent is offline, as the link being down is. */
  const send = async (request: DeskChangeRequest): Promise<DeskChangeAnswer> => {
    const changes = desk.changes;
    if (changes === undefined) return { result: 'offline' };
    try {
      return await changes.send(request);
    } catch (err) {
      ctx.logger?.warn({ err: err instanceof Error ? err.message : String(err), kind: request.change.kind }, 'desk change failed');
      return { result: 'offline' };
    }
  };

  /** A change central answers at once (the PIN's): sent, audited with its outcome, answered as HTTP. */
  const ask = async (request: FastifyRequest, reply: FastifyReply, found: { cardHash: Buffer; person: string }, kind: 'pin-set' | 'pin-remove', change: DeskChangeRequest['change']): Promise<FastifyReply> => {
    const actor = ctx.identity(request).actor;
    const answer = await send({ actor, member: found.cardHash, change });
    audit(kind, found.person, answer.result === 'refused' ? answer.reason : answer.result, actor);
    return answered(reply, found.person, answer);
  };

  return async (app) => {
    app.post(
      '/members/link-card',
      {
        schema: docs({
          summary: "Link a member's new card: the next card tapped at the desk reader within 30 s",
          description: "202 with the link's id; GET /members/link-card/{id} says what became of it. Central makes the change, which reaches every branch with its next list version.",
          body: LinkCardBodySchema,
          response: { 404: ErrorSchema, 409: ErrorSchema, 503: ErrorSchema },
        }),
        preValidation: zodValidate({ body: LinkCardBodySchema }),
      },
      async (request, reply) => {
        const body = request.body as z.infer<typeof LinkCardBodySchema>;
        const readers = desk.readers;
        if (readers.length === 0) return reply.code(409).send({ error: 'this branch has no desk reader (a reader with role: desk in the hardware config)' });
        const readerId = body.reader ?? readers[0]!;
        if (!readers.includes(readerId)) return reply.code(400).send({ error: 'invalid request', errors: [`reader: not a desk reader (desk readers: ${readers.join(', ')})`] });
        const found = changeable(body.card, reply);
        if (!found.ok) return found.reply;
        const actor = ctx.identity(request).actor;
        const now = ctx.clock.now().getTime();
        const link: Link = { id: randomUUID(), person: found.person, actor, readerId, state: 'waiting', expiresAt: new Date(now + DESK_LINK_WAIT_MS), capture: () => undefined, createdAt: now };
        link.capture = (card) => {
          link.state = 'tapped';
          // Off the tap's turn: the list lookup and the wait for central are the console's, not the reader's.
          setImmediate(() => {
            linkTapped(link, found.cardHash, card).catch((err: unknown) => ctx.logger?.error({ err: err instanceof Error ? err.message : String(err) }, 'desk link failed'));
          });
        };
        const armed = desk.arm(readerId, link.capture);
        if (!armed.ok) return reply.code(409).send({ error: armed.error });
        link.expiresAt = armed.expiresAt;
        forget(now);
        links.set(link.id, link);
        return reply.code(202).send(view(link));
      },
    );

    app.get(
      '/members/link-card/:id',
      {
        schema: docs({ summary: 'What became of a card link: waiting, tapped, then done or refused, in central’s words', params: LinkIdParamsSchema, response: { 404: ErrorSchema } }),
        preValidation: zodValidate({ params: LinkIdParamsSchema }),
      },
      async (request, reply) => {
        const link = links.get((request.params as z.infer<typeof LinkIdParamsSchema>).id);
        if (link === undefined) return reply.code(404).send({ error: 'no such card link (it ended more than 10 minutes ago, or the gateway restarted)' });
        return view(link);
      },
    );

    app.delete(
      '/members/link-card/:id',
      {
        schema: docs({ summary: 'Stop waiting for the tap (nothing is sent)', params: LinkIdParamsSchema, response: { 404: ErrorSchema, 409: ErrorSchema } }),
        preValidation: zodValidate({ params: LinkIdParamsSchema }),
      },
      async (request, reply) => {
        const link = links.get((request.params as z.infer<typeof LinkIdParamsSchema>).id);
        if (link === undefined) return reply.code(404).send({ error: 'no such card link' });
        if (link.state !== 'waiting') return reply.code(409).send({ error: 'the card was tapped already: the change is with central' });
        desk.disarm(link.readerId, link.capture);
        link.state = 'expired';
        link.message = 'stopped waiting; nothing was changed';
        return view(link);
      },
    );

    app.post(
      '/members/pin',
      {
        schema: docs({
          summary: "Set a member's open-access PIN, typed by the member at the desk",
          description: 'The PIN is hashed at once and the digits dropped; only the hash goes to central, which answers within 15 s.',
          body: PinSetBodySchema,
          response: { 404: ErrorSchema, 409: RefusedSchema, 503: ErrorSchema, 504: ErrorSchema },
        }),
        preValidation: zodValidate({ body: PinSetBodySchema }),
      },
      async (request, reply) => {
        const body = request.body as z.infer<typeof PinSetBodySchema>;
        const found = changeable(body.card, reply);
        if (!found.ok) return found.reply;
        // On the thread pool: scrypt is tens of milliseconds the door's loop must not spend.
        const pinHash = await hashPinAsync(body.pin);
        body.pin = '';
        body.confirm = '';
        return ask(request, reply, found, 'pin-set', { kind: 'set-pin', pinHash });
      },
    );

    app.delete(
      '/members/pin',
      {
        schema: docs({ summary: "Remove a member's open-access PIN", body: PinRemoveBodySchema, response: { 404: ErrorSchema, 409: RefusedSchema, 503: ErrorSchema, 504: ErrorSchema } }),
        preValidation: zodValidate({ body: PinRemoveBodySchema }),
      },
      async (request, reply) => {
        const body = request.body as z.infer<typeof PinRemoveBodySchema>;
        const found = changeable(body.card, reply);
        if (!found.ok) return found.reply;
        return ask(request, reply, found, 'pin-remove', { kind: 'remove-pin' });
      },
    );
  };
}

function answerText(answer: DeskChangeAnswer): string {
  switch (answer.result) {
    case 'done':
    case 'refused':
      return answer.message;
    case 'offline':
      return CENTRAL_UNREACHABLE;
    case 'no-answer':
      return CENTRAL_SILENT;
  }
}

/** Central's answer as HTTP: done 200, refused 409 (its words), offline 503, no answer 504. */
function answered(reply: FastifyReply, person: string, answer: DeskChangeAnswer): FastifyReply {
  switch (answer.result) {
    case 'done':
      return reply.code(200).send({ person, result: 'done', message: answer.message, version: answer.version });
    case 'refused':
      return reply.code(409).send({ error: answer.message, reason: answer.reason });
    case 'offline':
      return reply.code(503).send({ error: CENTRAL_UNREACHABLE });
    case 'no-answer':
      return reply.code(504).send({ error: CENTRAL_SILENT });
  }
}
