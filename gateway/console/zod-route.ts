// Routes validate with the project's zod schemas (errors read `path: reason`, as everywhere else) and describe
// themselves to OpenAPI with the JSON Schema zod makes from the same schemas. Ajv is not used: one validator.
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

/** preValidation: parse params, query and body; on failure, 400 naming every field that is wrong. */
export function zodValidate(schemas: RouteSchemas): preValidationHookHandler {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const errors: string[] = [];
    const check = (where: 'params' | 'query' | 'body', schema: z.ZodType | undefined): void => {
      if (schema === undefined) return;
      const result = validate(schema, request[where] ?? (where === 'body' ? undefined : {}));
      if (result.ok) (request as unknown as Record<string, unknown>)[where] = result.value;
      else errors.push(...result.errors.map((e) => (where === 'body' ? e : `${where}.${e}`)));
    };
    check('params', schemas.params);
    check('query', schemas.query);
    check('body', schemas.body);
    if (errors.length > 0) await reply.code(400).send({ error: 'invalid request', errors });
  };
}

export interface RouteDocs extends RouteSchemas {
  summary: string;
  description?: string;
  tags?: string[];
  response?: Record<number, z.ZodType>;
  produces?: string[];
  /** Whether the route needs a session cookie (and, for changes, the CSRF header). Default true. */
  auth?: boolean;
}

/** The `schema` part of a route: documentation only (validation is zodValidate's). */
export function docs(route: RouteDocs): Record<string, unknown> {
  const out: Record<string, unknown> = { summary: route.summary, tags: route.tags ?? ['console'] };
  if (route.description !== undefined) out.description = route.description;
  if (route.params) out.params = jsonSchema(route.params);
  if (route.query) out.querystring = jsonSchema(route.query);
  if (route.body) out.body = jsonSchema(route.body);
  if (route.response) {
    out.response = Object.fromEntries(Object.entries(route.response).map(([code, s]) => [code, jsonSchema(s, 'output')]));
  }
  if (route.produces) out.produces = route.produces;
  if (route.auth !== false) out.security = [{ session: [] }];
  return out;
}

export const ErrorSchema = z.object({
  error: z.string(),
  errors: z.array(z.string()).optional().describe('one `field: reason` line per problem'),
});
