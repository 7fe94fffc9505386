// The gateway's local API and staff console, route by route (every operation in its own OpenAPI document, so a new
// route is fuzzed without anyone remembering to add it), each without and with a valid console session.
//
// "Malformed" means what the route's own schema refuses. Inputs the schema would accept are not sent (they are
// counted as "valid, skipped"), except where accepting them changes nothing but a refusal record: a tap of an
// unknown card, a sign-in with the wrong password (a few only: each costs the gateway a scrypt). Sign-in is limited
// to 10 attempts per address and 5 minutes; to reach the handler behind the limiter, sign-in requests come from
// many loopback addresses (127.x.y.z), a few each.
import { request as httpRequest, Agent } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import type { z } from 'zod';
import {
  CommandBodySchema,
  LogCsvQuerySchema,
  LogQuerySchema,
  LoginBodySchema,
  LookupBodySchema,
  PasswordChangeBodySchema,
  PolicyPreviewBodySchema,
  PolicySaveBodySchema,
  UserCreateBodySchema,
  UserPatchBodySchema,
  UsernameParamsSchema,
} from '../../gateway/console/schemas.js';
import { SimulatedTapSchema } from '../../gateway/http/server.js';
import type { Rng } from './mutate.js';
import { malformedJson, malformedQuery, mutateBytes, mutateValue, percentEncode } from './mutate.js';

export interface Operation {
  method: string;
  /** OpenAPI style: `/api/console/users/{username}`. */
  path: string;
}

export interface SessionCredentials {
  cookie: string;
  csrf: string;
}

export interface RequestSpec {
  method: string;
  /** Path and query, already encoded (or deliberately not). */
  url: string;
  headers: Record<string, string>;
  body?: Buffer | undefined;
  /** Sent over a bare socket, byte for byte, when the mutation broke the request itself. */
  raw?: Buffer | undefined;
  localAddress?: string | undefined;
  /** A stream (server-sent events): only the status is read, then the request is dropped. */
  stream?: boolean | undefined;
}

export interface Answer {
  status: number;
  /** Transport failure (reset, refused, timeout): the status is 0. */
  error?: string | undefined;
  /** A 503 with Retry-After: the gateway's designed "busy, try again" (password hashing slots full), not a fault. */
  busy?: boolean | undefined;
}

const CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=latin1', 'application/jsonx', '', '*/*', 'application/json, text/plain'];

function sameOriginPolicyDraft(site: string): Record<string, unknown> {
  return {
    site,
    name: 'Soak Library',
    timezone: 'Europe/London',
    schedule: { weekly: { mon: [{ from: '08:00', to: '20:00', mode: 'open-access' }] }, exceptions: [{ date: '2026-12-25', modes: [] }] },
    rules: { minimumAge: 16, pin: 'never' },
  };
}

interface RouteModel {
  /** A valid example body (undefined: the route takes none). */
  body?: unknown;
  /** A valid example query. */
  query?: Record<string, string>;
  /** Path parameters' valid examples. */
  params?: Record<string, string>;
  /** True when the route's schema accepts this input (so it is not malformed); undefined: no schema, anything goes. */
  accepts?: (input: { body: unknown; query: Record<string, string>; params: Record<string, string> }) => boolean;
  /** Accepted inputs are sent anyway, this share of the time (they only leave a refusal behind). */
  sendAccepted?: number;
  /**
   * Judge a body as the gateway reads it: invalid UTF-8 replaced by U+FFFD rather than refused. For the routes
   * behind a scrypt (sign-in, password), where such a body costs a hash like any well-formed one; elsewhere a
   * body that is not UTF-8 counts as malformed, and its acceptance shows as a state change.
   */
  lenientUtf8?: boolean;
}

function ok<S extends z.ZodType>(schema: S, value: unknown): boolean {
  return schema.safeParse(value).success;
}

/** What each known route takes; a route not listed gets a generic body and query. */
function routeModels(site: string): Record<string, RouteModel> {
  const draft = sameOriginPolicyDraft(site);
  const logQuery = { types: 'access,alarm', limit: '20', from: '2026-01-01T00:00', to: '2026-12-31T23:59', before: '01JAAAAAAAAAAAAAAAAAAAAAAA' };
  return {
    'POST /api/simulate/tap': { body: { uid: '04A1B2C3D4E5F6', reader: 'entry' }, accepts: ({ body }) => ok(SimulatedTapSchema, body), sendAccepted: 1 },
    'POST /api/console/login': { body: { username: 'soak-manager', password: 'not the password' }, accepts: ({ body }) => ok(LoginBodySchema, body), sendAccepted: 0.01, lenientUtf8: true },
    'POST /api/console/password': {
      body: { current: 'not the password', password: 'a new long password' },
      accepts: ({ body }) => ok(PasswordChangeBodySchema, body),
      sendAccepted: 0.01,
      lenientUtf8: true,
    },
    'POST /api/console/commands': { body: { command: 'lights-on' }, accepts: ({ body }) => ok(CommandBodySchema, body) },
    'POST /api/console/policy/preview': { body: { policy: draft }, accepts: ({ body }) => ok(PolicyPreviewBodySchema, body), sendAccepted: 1 },
    'PUT /api/console/policy': { body: { baseRevision: '0123456789abcdef', policy: draft }, accepts: ({ body }) => ok(PolicySaveBodySchema, body) },
    'GET /api/console/log': { query: logQuery, accepts: ({ query }) => ok(LogQuerySchema, query), sendAccepted: 1 },
    // A valid export reads the whole log: a few only.
    'GET /api/console/log.csv': { query: logQuery, accepts: ({ query }) => ok(LogCsvQuerySchema, query), sendAccepted: 0.01 },
    'POST /api/console/members/lookup': { body: { card: '21000012345678' }, accepts: ({ body }) => ok(LookupBodySchema, body) },
    'POST /api/console/users': { body: { username: 'new-user', role: 'staff', password: 'a long enough password' }, accepts: ({ body }) => ok(UserCreateBodySchema, body) },
    'PATCH /api/console/users/{username}': {
      body: { role: 'staff' },
      params: { username: 'soak-manager' },
      accepts: ({ body, params }) => ok(UserPatchBodySchema, body) && ok(UsernameParamsSchema, params),
    },
    // A valid name of another account would remove it (an account a finding left behind, say): only the last
    // manager's own name, refused with 409, is sent of the valid ones.
    'DELETE /api/console/users/{username}': {
      params: { username: 'soak-manager' },
      accepts: ({ params }) => {
        const name = UsernameParamsSchema.safeParse(params);
        return name.success && name.data.username !== 'soak-manager';
      },
    },
    // Sign-out takes no input: any request that gets through ends the session, so only unreadable ones are sent.
    'POST /api/console/logout': { body: {}, accepts: ({ body }) => body !== NOT_JSON },
  };
}

const NOT_JSON = Symbol('not JSON');

function parseJson(bytes: Buffer | undefined, lenient = false): unknown {
  if (bytes === undefined || bytes.length === 0) return undefined;
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: !lenient }).decode(bytes)) as unknown;
  } catch {
    return NOT_JSON;
  }
}

export interface Generated {
  spec: RequestSpec;
  strategy: string;
}

/** Makes malformed requests for one operation. */
export class RequestMaker {
  private readonly model: RouteModel;
  private loginCount = 0;
  skippedValid = 0;

  constructor(
    private readonly rng: Rng,
    private readonly op: Operation,
    site: string,
    private readonly host: string,
    private readonly session: SessionCredentials | undefined,
  ) {
    this.model = routeModels(site)[`${op.method} ${op.path}`] ?? { body: op.method === 'GET' || op.method === 'DELETE' ? undefined : { a: 1 }, query: { a: '1' } };
  }

  next(): Generated {
    for (let attempt = 0; attempt < 50; attempt += 1) {
      const made = this.make();
      if (made !== undefined) return made;
      this.skippedValid += 1;
    }
    // The schema accepts nearly everything this route is sent: fall back to bytes no JSON parser takes.
    return this.make(true)!;
  }

  private make(forceBroken = false): Generated | undefined {
    const { rng, model, op } = this;
    let strategy = 'query';
    const params: Record<string, string> = { ...model.params };
    for (const name of op.path.match(/\{(\w+)\}/g)?.map((p) => p.slice(1, -1)) ?? []) {
      params[name] ??= 'x';
      if (rng.chance(0.5)) {
        const mutated = mutateValue(rng, params[name]!, 1);
        params[name] = typeof mutated === 'string' ? mutated : JSON.stringify(mutated) ?? '';
        strategy = 'path';
      }
    }
    let path = op.path.replace(/\{(\w+)\}/g, (_, name: string) => encodePathPart(rng, params[name] ?? ''));
    let query: Record<string, string> = { ...model.query };
    if (model.query !== undefined || rng.chance(0.3)) {
      const text = malformedQuery(rng, model.query ?? {});
      if (text.length > 0) path += `?${text}`;
      query = Object.fromEntries(new URLSearchParams(text));
    }
    let body: Buffer | undefined;
    const takesBody = model.body !== undefined || (op.method !== 'GET' && op.method !== 'DELETE' && op.method !== 'HEAD');
    if (takesBody && (forceBroken || model.body !== undefined || rng.chance(0.5))) {
      const made = forceBroken ? { strategy: 'byte-mutated', bytes: Buffer.concat([Buffer.from('{"'), rng.bytes(8)]) } : malformedJson(rng, model.body ?? {}, 256 * 1024);
      body = made.bytes;
      strategy = made.strategy;
    } else if (!takesBody && rng.chance(0.2)) {
      body = malformedJson(rng, {}).bytes;
      strategy = 'unexpected-body';
    }
    const parsedBody = parseJson(body, model.lenientUtf8 === true);
    if (!forceBroken && model.accepts !== undefined && model.accepts({ body: parsedBody, query, params })) {
      if (!rng.chance(model.sendAccepted ?? 0)) return undefined;
      strategy = `${strategy} (schema-valid)`;
    }

    const headers: Record<string, string> = { host: this.host };
    if (body !== undefined) {
      // Sign-out reads no body: one sent without a type would be ignored and the session ended.
      const type = rng.chance(0.85) || op.path.endsWith('/logout') ? 'application/json' : rng.pick(CONTENT_TYPES);
      if (type !== '') headers['content-type'] = type;
    }
    if (this.session !== undefined) {
      headers.cookie = rng.chance(0.95) ? this.session.cookie : rng.pick([`${this.session.cookie}x`, 'oag_session=', 'oag_session=%zz', `oag_session=${'A'.repeat(43)}`, this.session.cookie.replace('oag_session', '__Host-oag_session')]);
      if (op.method !== 'GET') {
        if (rng.chance(0.9)) headers['x-csrf-token'] = this.session.csrf;
        else if (rng.chance(0.5)) headers['x-csrf-token'] = `${this.session.csrf.slice(1)}A`;
      }
      if (rng.chance(0.05)) headers.origin = rng.pick(['http://evil.example', 'null', `http://${this.host}`, '%%%']);
      if (rng.chance(0.03)) headers['sec-fetch-site'] = rng.pick(['cross-site', 'same-site', 'same-origin', 'none']);
    } else if (rng.chance(0.1)) {
      headers.cookie = rng.pick(['oag_session=abc', `oag_session=${'A'.repeat(43)}`, 'a=b; c', '=', 'oag_session="x"']);
    }
    if (op.method !== 'GET' && rng.chance(0.02)) headers['x-csrf-token'] = mutateValue(rng, 'x', 1) as string;

    const spec: RequestSpec = { method: op.method, url: path, headers, body, stream: op.path.endsWith('/live') };
    if (op.path === '/api/console/login') {
      // A handful of attempts per address stays under the sign-in limit (10 per 5 minutes per address).
      const n = 1 + Math.floor(this.loginCount++ / 8);
      spec.localAddress = `127.${1 + ((n >> 16) & 0x7f)}.${(n >> 8) & 0xff}.${n & 0xff}`;
    }
    // Few: a broken request head often leaves the server waiting for bytes that never come (until the timeout).
    if (rng.chance(0.01)) {
      spec.raw = rawRequest(rng, spec);
      strategy = `raw ${strategy}`;
    }
    return { spec, strategy };
  }
}

function encodePathPart(rng: Rng, value: string): string {
  if (rng.chance(0.1)) return rng.pick(['%', '%zz', '%c0%af', '..', '%2e%2e', '%2F', '%00']);
  return percentEncode(value);
}

/** The request as bytes, with its request line or headers broken (the body keeps its length). */
function rawRequest(rng: Rng, spec: RequestSpec): Buffer {
  const body = spec.body ?? Buffer.alloc(0);
  const headerLines = Object.entries(spec.headers).map(([k, v]) => `${k}: ${v}`);
  const head = Buffer.from(`${spec.method} ${spec.url} HTTP/1.1\r\n${headerLines.join('\r\n')}\r\ncontent-length: ${body.length}\r\nconnection: close\r\n`);
  return Buffer.concat([rng.chance(0.7) ? mutateBytes(rng, head) : Buffer.concat([head, Buffer.from(`${rng.pick(['x-a', 'transfer-encoding', 'content-length', 'host', ' bad'])}: ${rng.pick(['chunked', '-1', '99999999999999999999', '\u0000', 'a\rb'])}\r\n`)]), Buffer.from('\r\n'), body]);
}

const keepAlive = new Agent({ keepAlive: true, maxSockets: 32 });

/**
 * One request; resolves with the status (0 and an error for a transport failure). Never rejects. A kept-alive
 * connection the server had already closed (after a refused body, say) fails with ECONNRESET before the request
 * was read: such a request is sent once more on a connection of its own.
 */
export async function send(port: number, spec: RequestSpec, timeoutMs = 30_000): Promise<Answer> {
  if (spec.raw !== undefined) return sendRaw(port, spec.raw, Math.min(timeoutMs, 1000));
  const first = await sendOnce(port, spec, timeoutMs, spec.localAddress === undefined);
  if (first.status === 0 && spec.localAddress === undefined && ['ECONNRESET', 'EPIPE'].includes(first.error ?? '')) return sendOnce(port, spec, timeoutMs, false);
  return first;
}

function sendOnce(port: number, spec: RequestSpec, timeoutMs: number, reuse: boolean): Promise<Answer> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (answer: Answer): void => {
      if (settled) return;
      settled = true;
      resolve(answer);
    };
    let req: ReturnType<typeof httpRequest>;
    try {
      req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          method: spec.method,
          path: spec.url,
          headers: spec.body === undefined ? spec.headers : { ...spec.headers, 'content-length': String(spec.body.length) },
          agent: reuse ? keepAlive : false,
          localAddress: spec.localAddress,
          timeout: timeoutMs,
        },
        (res) => {
          const status = res.statusCode ?? 0;
          const busy = status === 503 && res.headers['retry-after'] !== undefined;
          if (spec.stream === true && status === 200) {
            done({ status });
            res.destroy();
            req.destroy();
            return;
          }
          res.on('data', () => {});
          res.on('end', () => done({ status, busy }));
          res.on('error', () => done({ status, busy }));
        },
      );
    } catch (error) {
      // Node's client refuses some malformed paths or headers itself: nothing reached the gateway.
      done({ status: -1, error: (error as NodeJS.ErrnoException).code ?? 'client refused' });
      return;
    }
    // Headers and body leave in one segment and nothing waits for a delayed ACK (Nagle would add tens of ms).
    req.on('socket', (socket) => socket.setNoDelay(true));
    req.on('timeout', () => {
      req.destroy(new Error('timeout'));
    });
    req.on('error', (error: NodeJS.ErrnoException) => done({ status: 0, error: error.code ?? error.message }));
    if (spec.body !== undefined) req.end(spec.body);
    else req.end();
  });
}

function sendRaw(port: number, bytes: Buffer, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let head = '';
    let settled = false;
    const done = (answer: Answer): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(timeoutMs, () => done({ status: 0, error: 'timeout (raw request left incomplete)' }));
    socket.on('connect', () => socket.end(bytes));
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1');
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      if (match) done({ status: Number(match[1]) });
    });
    socket.on('end', () => done({ status: 0, error: head.length === 0 ? 'closed without an answer' : 'unreadable answer' }));
    socket.on('error', (error: NodeJS.ErrnoException) => done({ status: 0, error: error.code ?? error.message }));
  });
}

/** Every operation the gateway's OpenAPI document lists, plus the documentation pages and a path no route has. */
export async function operations(baseUrl: string): Promise<Operation[]> {
  const doc = (await (await fetch(`${baseUrl}/api/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const method of Object.keys(methods)) {
      if (['get', 'post', 'put', 'patch', 'delete'].includes(method)) ops.push({ method: method.toUpperCase(), path });
    }
  }
  ops.push({ method: 'GET', path: '/api/openapi.json' }, { method: 'GET', path: '/api/docs' }, { method: 'POST', path: '/api/no-such-route/{x}' });
  return ops;
}

export function isConsole(op: Operation): boolean {
  return op.path.startsWith('/api/console/');
}

export type { IncomingHttpHeaders };
