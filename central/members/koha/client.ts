// Koha's REST API as the poller uses it: a token by OAuth2 client credentials (POST /api/v1/oauth/token, kept until
// shortly before it expires, fetched again once on a 401) or basic auth, and GET /api/v1/patrons a page at a time.
// Every request has a deadline and every answer a size limit, read as it arrives; a redirect is refused (it would
// carry the token elsewhere). Whatever goes wrong is one KohaError whose message says what, never a patron's data.
import { formatIssues } from '../../../policies/errors.js';
import { shortText } from '../../alerts/channels/types.js';
import { KohaPatronPageSchema, KohaTokenSchema, type KohaPatron } from './patron.js';

/** A patron object is 2-4 KiB of JSON; this leaves room for many attributes. */
const MAX_BYTES_PER_PATRON = 32 * 1024;
const MAX_TOKEN_BYTES = 16 * 1024;
const MAX_ERROR_BYTES = 4 * 1024;
/** A poll that would walk more pages than this is refused: something other than a day's changes is answering. */
export const MAX_PAGES = 10_000;
/** A token is fetched again this long before Koha said it expires. */
const TOKEN_MARGIN_MS = 30_000;

export type KohaFailure = 'unreachable' | 'refused' | 'http' | 'bad-answer';

export class KohaError extends Error {
  constructor(
    message: string,
    readonly kind: KohaFailure,
  ) {
    super(message);
    this.name = 'KohaError';
  }
}

export interface KohaClientOptions {
  /** Koha's address without `/api/v1`. */
  url: string;
  auth: 'oauth' | 'basic';
  clientId: string;
  secret: string;
  perPage: number;
  timeoutMs: number;
  /** Ask Koha to embed the patrons' attributes (only when an attribute registers them: it costs Koha a join). */
  embedAttributes: boolean;
  clock: { now(): Date };
}

export interface KohaPage {
  patrons: KohaPatron[];
  /** X-Total-Count, when Koha sent it. */
  total: number | null;
}

export class KohaClient {
  private token: { value: string; until: number } | null = null;
  private readonly api: string;

  constructor(private readonly options: KohaClientOptions) {
    this.api = `${options.url.replace(/\/+$/, '')}/api/v1`;
  }

  /**
   * The patrons whose `updated_on` is at or after `since` (RFC 3339), oldest change first, page by page. Pages are
   * asked by number (`_page`) until X-Total-Count is reached, or, without it, while Link has a `next`.
   */
  async *changedSince(since: string): AsyncGenerator<KohaPage> {
    const q = JSON.stringify({ updated_on: { '>=': since } });
    for (let page = 1; ; page++) {
      if (page > MAX_PAGES) throw new KohaError(`more than ${MAX_PAGES} pages of changed patrons: refused`, 'bad-answer');
      const query = new URLSearchParams({ q, _order_by: '+updated_on', _per_page: String(this.options.perPage), _page: String(page) });
      const response = await this.authorised(`${this.api}/patrons?${query.toString()}`, this.options.embedAttributes ? { 'x-koha-embed': 'extended_attributes' } : {});
      const body = await this.readJson(response, this.options.perPage * MAX_BYTES_PER_PATRON, 'the patron list');
      const parsed = KohaPatronPageSchema.safeParse(body);
      if (!parsed.success) throw new KohaError(`the patron list does not match Koha's patron definition: ${formatIssues(parsed.error).slice(0, 3).join('; ')}`, 'bad-answer');
      const totalHeader = response.headers.get('x-total-count');
      const total = totalHeader !== null && /^\d{1,10}$/.test(totalHeader.trim()) ? Number(totalHeader) : null;
      yield { patrons: parsed.data, total };
      const more = total !== null ? page * this.options.perPage < total : hasNext(response.headers.get('link'));
      if (!more || parsed.data.length === 0) return;
    }
  }

  /** A GET with the credentials; with OAuth a 401 fetches a new token and asks once more (the old one expired early). */
  private async authorised(url: string, headers: Record<string, string>): Promise<Response> {
    const send = async (): Promise<Response> => this.request(url, { method: 'GET', headers: { accept: 'application/json', ...headers, authorization: await this.credentials() } });
    let response = await send();
    if (response.status === 401 && this.options.auth === 'oauth') {
      await response.body?.cancel();
      this.token = null;
      response = await send();
    }
    if (response.status !== 200) throw await this.failure(response, 'listing patrons');
    return response;
  }

  private async credentials(): Promise<string> {
    const { auth, clientId, secret, clock } = this.options;
    if (auth === 'basic') return `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`;
    if (this.token !== null && clock.now().getTime() < this.token.until) return `Bearer ${this.token.value}`;
    const response = await this.request(`${this.api}/oauth/token`, {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret }).toString(),
    });
    if (response.status !== 200) throw await this.failure(response, 'asking for a token');
    const parsed = KohaTokenSchema.safeParse(await this.readJson(response, MAX_TOKEN_BYTES, 'the token'));
    if (!parsed.success) throw new KohaError(`the token answer is not Koha's: ${formatIssues(parsed.error).join('; ')}`, 'bad-answer');
    const lifetimeMs = (parsed.data.expires_in ?? 3600) * 1000;
    this.token = { value: parsed.data.access_token, until: clock.now().getTime() + Math.max(0, lifetimeMs - TOKEN_MARGIN_MS) };
    return `Bearer ${this.token.value}`;
  }

  private async request(url: string, init: RequestInit): Promise<Response> {
    const { timeoutMs } = this.options;
    let response: Response;
    try {
      response = await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      const e = error as { name?: string; message?: string; cause?: { message?: string } };
      if (e.name === 'TimeoutError' || e.name === 'AbortError') throw new KohaError(`no answer within ${timeoutMs} ms`, 'unreachable');
      throw new KohaError(`cannot reach Koha: ${shortText(e.cause?.message ?? e.message ?? String(error))}`, 'unreachable');
    }
    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel();
      throw new KohaError(`HTTP ${response.status}, a redirect: configure the address it points to`, 'http');
    }
    return response;
  }

  private async failure(response: Response, doing: string): Promise<KohaError> {
    const text = shortText(new TextDecoder().decode(await readBounded(response, MAX_ERROR_BYTES, true)));
    let said = text;
    try {
      const error = (JSON.parse(text) as { error?: unknown }).error;
      if (typeof error === 'string') said = shortText(error);
    } catch {
      // Not Koha's JSON error: the text as it came.
    }
    const status = response.status;
    const kind: KohaFailure = status === 401 || status === 403 || status === 400 ? 'refused' : 'http';
    const hint = status === 401 || status === 403 ? ' (check members.koha.clientId, its secret file, and the borrowers permission)' : '';
    return new KohaError(`HTTP ${status} ${doing}${said === '' ? '' : `: ${said}`}${hint}`, kind);
  }

  private async readJson(response: Response, maxBytes: number, what: string): Promise<unknown> {
    const bytes = await readBounded(response, maxBytes, false);
    if (bytes === null) throw new KohaError(`${what} is larger than ${maxBytes} bytes: refused`, 'bad-answer');
    try {
      return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    } catch {
      throw new KohaError(`${what} is not JSON`, 'bad-answer');
    }
  }
}

/** The body up to `maxBytes`: null past it (or cut to it when `cut`). A body that breaks off is Koha unreachable. */
async function readBounded(response: Response, maxBytes: number, cut: true): Promise<Uint8Array>;
async function readBounded(response: Response, maxBytes: number, cut: false): Promise<Uint8Array | null>;
async function readBounded(response: Response, maxBytes: number, cut: boolean): Promise<Uint8Array | null> {
  if (response.body === null) return new Uint8Array();
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      total += value.length;
      if (total > maxBytes) {
        if (!cut) return null;
        break;
      }
    }
  } catch (error) {
    if (cut) return Buffer.concat(chunks).subarray(0, maxBytes);
    const name = (error as { name?: string }).name;
    throw new KohaError(name === 'TimeoutError' || name === 'AbortError' ? 'the answer did not arrive in time' : 'the answer broke off', 'unreachable');
  } finally {
    reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, maxBytes);
}

function hasNext(link: string | null): boolean {
  return link !== null && /;\s*rel="?next"?/i.test(link);
}
