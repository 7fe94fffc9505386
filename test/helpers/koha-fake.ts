// A fake of Koha's REST API for the tests and the bench, on 127.0.0.1 and a random port: POST /api/v1/oauth/token
// (client credentials) and GET /api/v1/patrons with Koha's `q` filter on updated_on, `_page`/`_per_page`,
// `_order_by`, `x-koha-embed: extended_attributes`, and the X-Total-Count and Link headers Koha's Pagination.pm adds.
// Its patrons start from the recorded ones in test/fixtures/koha/patrons.json. Every body it sends is checked
// against the excerpt of Koha's OpenAPI document beside them (test/fixtures/koha/*.yaml), and what does not fit is
// kept in `schemaErrors`, so that a test fails when the fake drifts from what Koha documents.
//
// A bad day at Koha: `failNext(n, how)` answers the next n patron requests with a 500, non-JSON, a body that is not
// a patron, or a dropped connection; `revokeTokens()` makes every token issued so far answer 401.
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { parse } from 'yaml';

// Beside this file in the sources; from dist/ (`npm run bench`, which compiles it), where the repository is.
const FIXTURES = existsSync(new URL('../fixtures/koha/', import.meta.url)) ? new URL('../fixtures/koha/', import.meta.url) : pathToFileURL(`${process.cwd()}/test/fixtures/koha/`);

export type KohaPatronJson = Record<string, unknown> & { patron_id: number; cardnumber: string | null; updated_on: string };

export type KohaFailure = 'http-500' | 'not-json' | 'not-a-patron' | 'drop';

export interface KohaFake {
  /** `http://127.0.0.1:PORT`, what `members.koha.url` names. */
  url: string;
  clientId: string;
  clientSecret: string;
  /** The patrons as Koha holds them, by patron_id. */
  patrons: Map<number, KohaPatronJson>;
  /** Adds a patron made from the recorded one, changed now. */
  add(fields: { patron_id: number; cardnumber: string } & Partial<KohaPatronJson>): KohaPatronJson;
  /** Changes a patron as the staff interface would: `updated_on` moves to now. */
  update(patronId: number, fields: Partial<KohaPatronJson>): KohaPatronJson;
  failNext(count: number, how: KohaFailure): void;
  revokeTokens(): void;
  /** Each request: method, path and query (no credentials). */
  requests: Array<{ method: string; path: string; query: URLSearchParams; status: number }>;
  /** Bodies the fake sent that do not fit Koha's document (should stay empty). */
  schemaErrors: string[];
  close(): Promise<void>;
}

// ---- the OpenAPI excerpt, as a small JSON Schema check ------------------------------------------------------------

type Schema = Record<string, unknown>;
const schemas = new Map<string, Schema>();
function schemaFile(name: string): Schema {
  let schema = schemas.get(name);
  if (schema === undefined) schemas.set(name, (schema = parse(readFileSync(new URL(name, FIXTURES), 'utf8')) as Schema));
  return schema;
}

const KNOWN_KEYWORDS = new Set(['type', 'properties', 'additionalProperties', 'required', 'items', '$ref', 'format', 'description', 'readOnly']);

/** The problems of `value` against a schema of Koha's document (the keywords its definitions use; any other is a problem). */
export function kohaSchemaProblems(value: unknown, schema: Schema | string, path = '$'): string[] {
  const s = typeof schema === 'string' ? schemaFile(schema) : schema;
  if (typeof s.$ref === 'string') return kohaSchemaProblems(value, s.$ref, path);
  const unknown = Object.keys(s).filter((k) => !KNOWN_KEYWORDS.has(k));
  if (unknown.length > 0) return [`${path}: the check does not know ${unknown.join(', ')}`];
  const problems: string[] = [];
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
    const actual = value === null ? 'null' : Array.isArray(value) ? 'array' : Number.isInteger(value) ? 'integer' : typeof value;
    const fits = types.some((t) => t === actual || (t === 'number' && actual === 'integer'));
    if (!fits) return [`${path}: is ${actual}, Koha documents ${types.join(' or ')}`];
  }
  if (typeof value === 'string' && s.format === 'date' && !/^\d{4}-\d{2}-\d{2}$/.test(value)) problems.push(`${path}: not a date`);
  if (typeof value === 'string' && s.format === 'date-time' && !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value)) problems.push(`${path}: not an RFC 3339 date-time`);
  if (Array.isArray(value) && s.items !== undefined) value.forEach((item, i) => problems.push(...kohaSchemaProblems(item, s.items as Schema, `${path}[${i}]`)));
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const props = (s.properties ?? {}) as Record<string, Schema>;
    const object = value as Record<string, unknown>;
    for (const key of (s.required ?? []) as string[]) if (!(key in object)) problems.push(`${path}.${key}: required`);
    for (const [key, v] of Object.entries(object)) {
      if (props[key] !== undefined) problems.push(...kohaSchemaProblems(v, props[key], `${path}.${key}`));
      else if (s.additionalProperties === false) problems.push(`${path}.${key}: not in Koha's definition`);
    }
  }
  return problems;
}

const listSchema = (): Schema => (schemaFile('patrons-list.yaml') as Record<string, Record<string, { responses: Record<string, { schema: Schema }> }>>)['/patrons']!.get!.responses['200']!.schema;
const tokenSchema = (): Schema => (schemaFile('oauth-token.yaml') as Record<string, Record<string, { responses: Record<string, { schema: Schema }> }>>)['/oauth/token']!.post!.responses['200']!.schema;

// ---- the server ---------------------------------------------------------------------------------------------------

/** Koha's server writes date-times in its own offset; the fake's is +01:00, so that offsets are exercised. */
export function kohaDateTime(ms: number): string {
  return `${new Date(Math.floor(ms / 1000) * 1000 + 3_600_000).toISOString().slice(0, 19)}+01:00`;
}

export async function startKohaFake(options: { now?: () => number; tokenSeconds?: number } = {}): Promise<KohaFake> {
  const now = options.now ?? Date.now;
  const clientId = 'oag-central';
  const clientSecret = 'koha-test-secret-not-real';
  const recorded = (JSON.parse(readFileSync(new URL('patrons.json', FIXTURES), 'utf8')) as KohaPatronJson[])[0]!;
  const patrons = new Map<number, KohaPatronJson>();
  const tokens = new Set<string>();
  const failures: KohaFailure[] = [];
  const requests: KohaFake['requests'] = [];
  const schemaErrors: string[] = [];
  let issued = 0;

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}, schema?: Schema): void => {
    if (schema !== undefined) schemaErrors.push(...kohaSchemaProblems(body, schema));
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  };

  const token = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let text = '';
    for await (const chunk of req) text += String(chunk);
    const form = new URLSearchParams(text);
    if (form.get('grant_type') !== 'client_credentials') return send(res, 400, { error: 'Unimplemented grant type' });
    if (form.get('client_id') !== clientId || form.get('client_secret') !== clientSecret) return send(res, 403, { error: 'unauthorized_client' });
    const value = `token-${++issued}`;
    tokens.add(value);
    send(res, 200, { access_token: value, token_type: 'Bearer', expires_in: options.tokenSeconds ?? 3600 }, {}, tokenSchema());
  };

  const list = (req: IncomingMessage, res: ServerResponse, url: URL): void => {
    const auth = req.headers.authorization ?? '';
    const basic = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`;
    if (!(auth.startsWith('Bearer ') && tokens.has(auth.slice(7))) && auth !== basic) return send(res, 401, { error: 'Authentication failure.' });
    const failure = failures.shift();
    if (failure === 'drop') return void req.socket.destroy();
    if (failure === 'http-500') return send(res, 500, { error: 'Something went wrong, check Koha logs for details.' });
    if (failure === 'not-json') return void res.writeHead(200, { 'content-type': 'text/html' }).end('<html>Koha is under maintenance</html>');
    if (failure === 'not-a-patron') return send(res, 200, [{ patron_id: 'one', restricted: 'no' }]);
    let rows = [...patrons.values()];
    const q = url.searchParams.get('q');
    if (q !== null) {
      const since = (JSON.parse(q) as { updated_on?: { '>='?: string } }).updated_on?.['>='];
      if (since === undefined) return send(res, 400, { error: 'the fake knows only q={"updated_on":{">=":…}}' });
      rows = rows.filter((p) => Date.parse(p.updated_on) >= Date.parse(since));
    }
    if (url.searchParams.get('_order_by') === '+updated_on') rows.sort((a, b) => Date.parse(a.updated_on) - Date.parse(b.updated_on) || a.patron_id - b.patron_id);
    const perPage = Number(url.searchParams.get('_per_page') ?? '20');
    const page = Number(url.searchParams.get('_page') ?? '1');
    const total = rows.length;
    const pages = Math.max(1, Math.ceil(total / perPage));
    const embed = (req.headers['x-koha-embed'] ?? '').toString().split(',').includes('extended_attributes');
    const body = rows.slice((page - 1) * perPage, page * perPage).map((p) => {
      if (embed) return p;
      const { extended_attributes: _dropped, ...rest } = p;
      return rest;
    });
    // As Koha/REST/Plugin/Pagination.pm builds them.
    const link = (n: number, rel: string): string => {
      const u = new URL(url);
      u.searchParams.set('_page', String(n));
      u.searchParams.set('_per_page', String(perPage));
      return `<${u.toString()}>; rel="${rel}"`;
    };
    const links = [...(page > 1 ? [link(page - 1, 'prev')] : []), ...(page < pages ? [link(page + 1, 'next')] : []), link(1, 'first'), link(pages, 'last')];
    send(res, 200, body, { 'x-total-count': String(total), link: links.join(',') }, listSchema());
  };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    res.on('finish', () => requests.push({ method: req.method ?? '', path: url.pathname, query: url.searchParams, status: res.statusCode }));
    if (req.method === 'POST' && url.pathname === '/api/v1/oauth/token') return void token(req, res);
    if (req.method === 'GET' && url.pathname === '/api/v1/patrons') return list(req, res, new URL(`http://${req.headers.host}${req.url}`));
    send(res, 404, { error: 'Not found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  const fake: KohaFake = {
    url: `http://127.0.0.1:${port}`,
    clientId,
    clientSecret,
    patrons,
    requests,
    schemaErrors,
    add(fields) {
      const patron = { ...structuredClone(recorded), ...fields, updated_on: kohaDateTime(now()) } as KohaPatronJson;
      patrons.set(patron.patron_id, patron);
      return patron;
    },
    update(patronId, fields) {
      const before = patrons.get(patronId);
      if (before === undefined) throw new Error(`the fake holds no patron ${patronId}`);
      const patron = { ...before, ...fields, updated_on: kohaDateTime(now()) };
      patrons.set(patronId, patron);
      return patron;
    },
    failNext(count, how) {
      for (let i = 0; i < count; i++) failures.push(how);
    },
    revokeTokens() {
      tokens.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return fake;
}
