// One HTTP request for the webhook and SMS channels, and what its answer means for the outbox: 2xx delivered;
// 408 and 429 (the far end asks for later) and 5xx and network errors retried; any other 4xx or a redirect is
// permanent, as the same request will get the same answer. The far end's body is read at most MAX_RESPONSE_BYTES:
// it goes into the reason, and an endless answer must not hold memory or the slot.
import { DeliveryError, shortText } from './types.js';

export const MAX_RESPONSE_BYTES = 4 * 1024;

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Null for an https URL (http only to this machine: alarm details, and for SMS a token, must not cross a network
 * in clear), else what is wrong.
 */
export function checkHttpUrl(text: string): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'must be an https:// URL';
  }
  const local = LOOPBACK_HOSTS.has(url.hostname) || url.hostname.startsWith('127.');
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && local)) return 'must be an https:// URL (http:// only to this machine)';
  if (url.username !== '' || url.password !== '') return 'must not carry a user or password: put credentials in a file (auth)';
  return null;
}
/** The longest wait a Retry-After may ask for; past it the outbox's own backoff applies. */
const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;

export interface HttpSend {
  channel: string;
  url: string;
  method: 'POST' | 'PUT' | 'GET';
  headers: Record<string, string>;
  body?: string | undefined;
  timeoutMs: number;
  /** For a Retry-After given as a date. */
  now: () => Date;
}

export async function sendHttp(request: HttpSend): Promise<void> {
  const { channel, timeoutMs } = request;
  const signal = AbortSignal.timeout(timeoutMs);
  let response: Response;
  try {
    response = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      // A redirect would resend the alarm (and for SMS the token) to wherever it points: refused below instead.
      redirect: 'manual',
      signal,
    });
  } catch (error) {
    throw new DeliveryError(channel, describeFetchError(error, timeoutMs), { retryable: true, scope: 'channel' });
  }
  const answer = shortText(await readSome(response, MAX_RESPONSE_BYTES));
  const status = response.status;
  if (status >= 200 && status < 300) return;
  const said = `HTTP ${status}${response.statusText ? ` ${shortText(response.statusText, 60)}` : ''}${answer === '' ? '' : `: ${answer}`}`;
  if (status === 408 || status === 429) {
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), request.now());
    throw new DeliveryError(channel, said, { retryable: true, scope: 'channel', retryAfterMs });
  }
  if (status >= 300 && status < 400) {
    throw new DeliveryError(channel, `${said} (a redirect: configure the address it points to)`, { retryable: false, scope: 'channel' });
  }
  if (status >= 400 && status < 500) throw new DeliveryError(channel, said, { retryable: false, scope: 'channel' });
  throw new DeliveryError(channel, said, { retryable: true, scope: 'channel' });
}

async function readSome(response: Response, maxBytes: number): Promise<string> {
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    while (total < maxBytes) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      total += value.length;
    }
  } catch {
    // Cut off or timed out mid-body: the status is what counts, and what arrived is enough for the reason.
  } finally {
    reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, maxBytes).toString('utf8');
}

function describeFetchError(error: unknown, timeoutMs: number): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  const cause = e.cause;
  if (cause?.message) return `cannot reach the server: ${shortText(cause.message)}`;
  return `cannot reach the server: ${shortText(e.message ?? String(error))}`;
}

/** Seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: Date): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d{1,10}$/.test(text)) return Math.min(Number(text) * 1000, MAX_RETRY_AFTER_MS);
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(0, at - now.getTime()), MAX_RETRY_AFTER_MS);
}
