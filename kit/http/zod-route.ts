// Routes validate with the project's zod schemas (errors read `path: reason`, as everywhere else) and describe
// themselves to OpenAPI with the JSON Schema zod makes from the same schemas. Ajv is not used: one validator, one
// wording. Central and the branch console both build their routes with this module.
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

/** The body of every 400 a route sends for bad input: one `field: reason` line per problem. */
export function invalidRequest(errors: string[]): { error: string; message: string; errors: string[] } {
  return { error: 'invalid request', message: errors.join('; '), errors };
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
    if (errors.length > 0) await reply.code(400).send(invalidRequest(errors));
  };
}

export interface RouteDocs extends RouteSchemas {
  summary: string;
  description?: string;
  tags?: string[];
  response?: Record<number, z.ZodType>;
  produces?: string[];
  /** False for the few routes listed as public; the OpenAPI document then shows no security on them. */
  auth?: boolean;
}

/** A `docs()` for one API: its default tag and the name of its security scheme in the OpenAPI document. */
export function routeDocs(defaults: { tag: string; securitySchemes: string[] }): (route: RouteDocs) => Record<string, unknown> {
  return (route) => {
    const out: Record<string, unknown> = { summary: route.summary, tags: route.tags ?? [defaults.tag] };
    if (route.description !== undefined) out.description = route.description;
    if (route.params) out.params = jsonSchema(route.params);
    if (route.query) out.querystring = jsonSchema(route.query);
    if (route.body) out.body = jsonSchema(route.body);
    if (route.response) {
      out.response = Object.fromEntries(Object.entries(route.response).map(([code, s]) => [code, jsonSchema(s, 'output')]));
    }
    if (route.produces) out.produces = route.produces;
    out.security = route.auth === false ? [] : defaults.securitySchemes.map((name) => ({ [name]: [] }));
    return out;
  };
}

export const ErrorSchema = z.object({
  error: z.string(),
  message: z.string().optional(),
  errors: z.array(z.string()).optional().describe('one `field: reason` line per problem'),
});
