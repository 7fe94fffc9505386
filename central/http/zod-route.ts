// Routes validate with the same zod schemas as everything else (errors read `path: reason`), and describe
// themselves to OpenAPI with the JSON Schema zod makes from them. Ajv is not used: one validator, one wording.
import type { FastifyReply, FastifyRequest, preValidationHookHandler } from 'fastify';
import { z } from 'zod';
import { validate } from '../../policies/errors.js';

export function jsonSchema(schema: z.ZodType, io: 'input' | 'output' = 'input'): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { target: 'openapi-3.0', unrepresentable: 'any', io }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}

export interface RouteSchemas {
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
}

export class BadRequest extends Error {
  constructor(readonly errors: string[]) {
    super(errors.join('; '));
  }
}

/** preValidation: parse params, query and body with zod; on failure, 400 with every problem named. */
export function zodValidate(schemas: RouteSchemas): preValidationHookHandler {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const errors: string[] = [];
    const check = (where: 'params' | 'query' | 'body', schema: z.ZodType | undefined): void => {
      if (!schema) return;
      const r = validate(schema, request[where] ?? (where === 'body' ? undefined : {}));
      if (r.ok) (request as unknown as Record<string, unknown>)[where] = r.value;
      else errors.push(...r.errors.map((e) => (where === 'body' ? e : `${where}.${e}`)));
    };
    check('params', schemas.params);
    check('query', schemas.query);
    check('body', schemas.body);
    if (errors.length > 0) {
      await reply.code(400).send({ error: 'Bad Request', message: errors.join('; '), errors });
    }
  };
}

/** The `schema` part of a route (docs only; validation is zodValidate's). */
export function docs(
  schemas: RouteSchemas & { summary: string; tags?: string[]; response?: Record<number, z.ZodType>; produces?: string[] },
): Record<string, unknown> {
  const out: Record<string, unknown> = { summary: schemas.summary, tags: schemas.tags ?? ['sites'] };
  if (schemas.params) out.params = jsonSchema(schemas.params);
  if (schemas.query) out.querystring = jsonSchema(schemas.query);
  if (schemas.body) out.body = jsonSchema(schemas.body);
  if (schemas.response) {
    out.response = Object.fromEntries(Object.entries(schemas.response).map(([code, s]) => [code, jsonSchema(s, 'output')]));
  }
  if (schemas.produces) out.produces = schemas.produces;
  return out;
}

export const ErrorSchema = z.object({
  error: z.string(),
  message: z.string(),
  errors: z.array(z.string()).optional(),
});
