// The door screen: a page for a small screen beside the reader (Chromium in kiosk mode on the Pi's HDMI) that says in
// words what the door just decided, the mode and its next change, and "Enter your PIN" while the keypad waits.
// The screen faces the street: it shows the branch's hours and the door's words, never a person, a pseudonym, a card
// or a count of people inside. So it is not a console page: no sign-in, but only for this machine (loopback, no
// proxy in between) or a request carrying the display token (`http.displayTokenFile`), for a screen on another machine.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { sameToken } from '../../kit/auth/request-checks.js';
import { openEventStream } from '../../kit/http/sse.js';
import type { PublicRoute } from '../../kit/http/protect.js';
import { isLoopbackHost } from '../../kit/loopback.js';
import { doorMessage, modeMessage } from '../../policies/door-messages.js';
import { findPublicDir } from '../console/index.js';
import type { DoorMessage, ModeMessage } from '../../policies/door-messages.js';
import type { ReaderRole } from '../../firmware-bridge/types.js';
import type { AccessOutcome } from '../core/bus.js';
import type { Clock, Timer } from '../core/clock.js';
import type { Gateway } from '../core/controller.js';

/** How long a decision stays on the screen: read by the person at the door, gone before the next one walks up. */
export const DECISION_SHOWN_MS = 8_000;
/** Each stream gets the state again this often: a heartbeat through proxies, and the page's clock set again. */
const HEARTBEAT_MS = 15_000;
/** A screen or two per door: more streams than this is a script left running, not a kiosk. */
export const MAX_DOOR_SCREENS = 8;
/** The config's default `taps.pinTimeoutMs`, for an API built without the gateway's config (tests, the bench). */
const DEFAULT_PIN_TIMEOUT_MS = 15_000;

const DOOR_SCREEN_PREFIX = '/door-screen';

const GUARDED = 'the door screen: only from this machine (loopback, no proxy) or with the display token (http.displayTokenFile); gateway/http/door-screen.ts checks';

/** Listed in the local API's public routes: the page and its data check the caller themselves, the files hold nothing. */
export const DOOR_SCREEN_ROUTES: readonly PublicRoute[] = [
  { method: 'GET', url: DOOR_SCREEN_PREFIX, why: GUARDED },
  { method: 'GET', url: `${DOOR_SCREEN_PREFIX}/state`, why: GUARDED },
  { method: 'GET', url: `${DOOR_SCREEN_PREFIX}/events`, why: GUARDED },
  { method: 'GET', url: `${DOOR_SCREEN_PREFIX}/door-screen.js`, why: 'the door screen’s script: a static file that holds no data' },
  { method: 'GET', url: `${DOOR_SCREEN_PREFIX}/door-screen.css`, why: 'the door screen’s style: a static file that holds no data' },
];

export interface DoorScreenOptions {
  gateway: Pick<Gateway, 'bus' | 'mode' | 'policies' | 'schedule' | 'doors' | 'state' | 'access'>;
  clock: Clock;
  /** `taps.pinTimeoutMs`: how long "Enter your PIN" stays when no PIN comes. */
  pinTimeoutMs?: number | undefined;
  /** The token a screen on another machine shows (read from `http.displayTokenFile`); none: loopback only. */
  displayToken?: string | undefined;
}

/** What the screen shows, as `GET /door-screen/state` and each event of the stream carry it. Nothing personal. */
export interface DoorScreenState {
  /** The server's time: the page's clock, so that a Pi whose browser guesses wrong still shows the branch's. */
  at: string;
  /** The branch's zone, for that clock. */
  timezone: string;
  lang: 'en';
  reader: string | null;
  door: string;
  mode: { mode: string } & ModeMessage;
  /** The last decision's words, for DECISION_SHOWN_MS; the PIN prompt while the keypad waits; else null. */
  message: DoorMessage | null;
  pinPending: boolean;
}

/** Which door a screen stands at, and which side of it (an entry screen shows no exit reader's "Goodbye"). */
interface Place {
  reader: string | null;
  door: string;
  role: ReaderRole;
}

interface Shown {
  message: DoorMessage;
  pin: boolean;
  timer: Timer;
}


/** The last words at each door and side, from the bus's access outcomes (each names its door). */
class DoorScreenFeed {
  private readonly shown = new Map<string, Shown>();
  private readonly subscribers = new Set<() => void>();

  constructor(private readonly options: DoorScreenOptions & { pinTimeoutMs: number }) {
    const { bus } = options.gateway;
    bus.on('access', this.onAccess);
    bus.on('schedule-mode', this.changed);
    bus.on('branch-mode', this.changed);
  }

  close(): void {
    const { bus } = this.options.gateway;
    bus.off('access', this.onAccess);
    bus.off('schedule-mode', this.changed);
    bus.off('branch-mode', this.changed);
    for (const shown of this.shown.values()) this.options.clock.clearTimeout(shown.timer);
    this.shown.clear();
  }

  subscribe(listener: () => void): () => void {
    this.subscribers.add(listener);
    return () => this.subscribers.delete(listener);
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** The screen at `place` now. */
  view(place: Place): DoorScreenState {
    const { gateway, clock } = this.options;
    const at = clock.now();
    const policy = gateway.policies.current;
    const mode = gateway.mode;
    const shown = this.shown.get(key(place.door, place.role));
    return {
      at: at.toISOString(),
      timezone: policy.timezone,
      lang: 'en',
      reader: place.reader,
      door: place.door,
      mode: { mode, ...modeMessage(mode, gateway.schedule.current.until, { policy, at }) },
      message: shown?.message ?? null,
      pinPending: shown?.pin ?? false,
    };
  }

  private readonly onAccess = (outcome: AccessOutcome): void => {
    const { clock, gateway, pinTimeoutMs } = this.options;
    const at = clock.now();
    const { decision } = outcome;
    // Only what the words need: the reason, a retry time, a booking's label. Never the person.
    const message = doorMessage(
      {
        allow: decision.allow,
        reason: decision.reason,
        retryAfter: decision.allow ? undefined : decision.retryAfter,
        booking: decision.allow && decision.booking !== undefined ? { label: decision.booking.label } : undefined,
      },
      { policy: gateway.policies.current, at },
    );
    const pin = !decision.allow && decision.reason === 'pin-required';
    const k = key(outcome.door, outcome.role);
    const previous = this.shown.get(k);
    if (previous !== undefined) clock.clearTimeout(previous.timer);
    const timer = clock.setTimeout(() => {
      if (this.shown.get(k)?.timer !== timer) return;
      this.shown.delete(k);
      this.changed();
    }, pin ? pinTimeoutMs : DECISION_SHOWN_MS);
    this.shown.set(k, { message, pin, timer });
    this.changed();
  };

  private readonly changed = (): void => {
    for (const listener of this.subscribers) listener();
  };
}

function key(door: string, role: ReaderRole): string {
  return `${door}\u0000${role}`;
}

/**
 * This machine: a loopback peer that forwards nobody. A local proxy (nginx in front of the console) connects from
 * loopback too, for whoever is behind it: its forwarding headers make the request a remote one.
 */
function fromThisMachine(request: FastifyRequest): boolean {
  const peer = request.raw.socket.remoteAddress;
  const forwarded = request.headers['x-forwarded-for'] !== undefined || request.headers.forwarded !== undefined;
  return peer !== undefined && isLoopbackHost(peer) && !forwarded;
}

function tokenGiven(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header !== undefined) return /^Bearer (\S+)$/i.exec(header)?.[1];
  const query = request.query as Record<string, unknown> | undefined;
  return typeof query?.token === 'string' ? query.token : undefined;
}

function guard(displayToken: string | undefined): onRequestHookHandler {
  return async (request, reply) => {
    if (fromThisMachine(request)) return;
    const given = tokenGiven(request);
    if (displayToken !== undefined && given !== undefined && sameToken(given, displayToken)) return;
    const error =
      displayToken === undefined
        ? 'the door screen is served to this machine only: for a screen on another machine, set http.displayTokenFile and give its token'
        : given === undefined
          ? 'the door screen needs the display token: Authorization: Bearer <token>, or ?token=<token> in the kiosk’s URL'
          : 'that is not the display token';
    await reply.code(401).header('cache-control', 'no-store').send({ error });
    return reply;
  };
}

/** The page and its files: beside this module's folder in the sources; from dist/, the sources' copy (as the console). */
const CSP = ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "img-src 'self' data:", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"].join('; ');

function headers(reply: FastifyReply, type: string): FastifyReply {
  // no-referrer: the kiosk's URL may hold the token; it must not travel on with a link.
  return reply
    .type(type)
    .header('cache-control', 'no-store')
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .header('content-security-policy', CSP);
}

/** The reader a request names (`?reader=`), its door and side; without one, the first entry reader; never the desk's. */
function placeOf(request: FastifyRequest, gateway: DoorScreenOptions['gateway']): Place | { error: string } {
  const query = request.query as Record<string, unknown> | undefined;
  const asked = query?.reader;
  // A desk reader reports itself as an entry reader (the contract knows no other), but no door screen stands at it.
  const readers = gateway.state.readers.filter((r) => !gateway.access.desk.isDesk(r.id));
  if (asked === undefined) {
    const first = readers.find((r) => r.role === 'entry') ?? readers[0];
    if (first === undefined) return { reader: null, door: gateway.doors.main.id, role: 'entry' };
    return { reader: first.id, door: gateway.doors.forReader(first.id).id, role: first.role };
  }
  const found = typeof asked === 'string' ? readers.find((r) => r.id === asked) : undefined;
  if (found === undefined) return { error: `reader: no reader ${JSON.stringify(String(asked)).slice(0, 70)} here (have ${readers.map((r) => r.id).join(', ') || 'none'})` };
  return { reader: found.id, door: gateway.doors.forReader(found.id).id, role: found.role };
}

export function doorScreenRoutes(options: DoorScreenOptions): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    const feed = new DoorScreenFeed({ ...options, pinTimeoutMs: options.pinTimeoutMs ?? DEFAULT_PIN_TIMEOUT_MS });
    const streams = new Set<() => void>();
    // Open streams would keep the server from closing: end them first, then leave nothing on the bus.
    app.addHook('preClose', async () => {
      for (const end of [...streams]) end();
    });
    app.addHook('onClose', async () => feed.close());

    const publicDir = findPublicDir('door-screen.html');
    const files = {
      html: readFileSync(join(publicDir, 'door-screen.html'), 'utf8'),
      js: readFileSync(join(publicDir, 'door-screen.js'), 'utf8'),
      css: readFileSync(join(publicDir, 'door-screen.css'), 'utf8'),
    };
    app.get(`${DOOR_SCREEN_PREFIX}/door-screen.js`, { schema: { hide: true } }, async (_request, reply) => headers(reply, 'text/javascript; charset=utf-8').send(files.js));
    app.get(`${DOOR_SCREEN_PREFIX}/door-screen.css`, { schema: { hide: true } }, async (_request, reply) => headers(reply, 'text/css; charset=utf-8').send(files.css));

    await app.register(async (guarded) => {
      guarded.addHook('onRequest', guard(options.displayToken));

      guarded.get(DOOR_SCREEN_PREFIX, { schema: { hide: true } }, async (_request, reply) => headers(reply, 'text/html; charset=utf-8').send(files.html));

      guarded.get(`${DOOR_SCREEN_PREFIX}/state`, { schema: { hide: true } }, async (request, reply) => {
        const place = placeOf(request, options.gateway);
        if ('error' in place) return headers(reply, 'application/json').code(400).send({ error: 'invalid query', errors: [place.error] });
        return headers(reply, 'application/json').send(feed.view(place));
      });

      guarded.get(`${DOOR_SCREEN_PREFIX}/events`, { schema: { hide: true } }, async (request, reply) => {
        const place = placeOf(request, options.gateway);
        if ('error' in place) return headers(reply, 'application/json').code(400).send({ error: 'invalid query', errors: [place.error] });
        if (feed.subscriberCount >= MAX_DOOR_SCREENS) {
          return headers(reply, 'application/json').code(503).send({ error: `too many door screens connected (at most ${MAX_DOOR_SCREENS})` });
        }
        // The browser's EventSource reconnects by itself after retryMs when the gateway restarts.
        const stream = openEventStream(reply, { retryMs: 3000, headers: { 'referrer-policy': 'no-referrer' } });
        const push = (): void => stream.send('state', feed.view(place));
        // Real time, not the gateway's clock: it keeps a connection alive, and the demo's clock runs 300 times faster.
        const heartbeat = setInterval(push, HEARTBEAT_MS);
        heartbeat.unref?.();
        const unsubscribe = feed.subscribe(push);
        const close = (): void => {
          streams.delete(end);
          unsubscribe();
          clearInterval(heartbeat);
        };
        const end = (): void => {
          close();
          stream.raw.end();
        };
        streams.add(end);
        // Whichever tells first that the screen went away (the browser closed, the network dropped).
        request.raw.on('close', close);
        stream.raw.on('close', close);
        push();
      });
    });
  };
}
