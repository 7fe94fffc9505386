// The online check: for a card the member list does not know, ask the LMS over SIP2, within a short deadline,
// and remember the answer for a while. The access path calls it only for unknown cards, so the hot path for
// known cards is the same synchronous lookup as without SIP2; a pending check holds up no other tap.
import type { ConnectionOptions } from 'node:tls';
import type { Member } from '../../policies/types.js';
import { ConfigError } from '../config.js';
import { readFileBytes, readTextFile } from '../../kit/read-bounded.js';
import { MAX_KEY_FILE_BYTES } from '../../policies/input-text.js';
import { PatronCache } from './cache.js';
import type { CacheClock } from './cache.js';
import { Sip2Client } from './client.js';
import type { LookupResult, Sip2Logger } from './client.js';
import type { Sip2Config } from './config.js';

export interface PatronLookup {
  lookupPatron(cardNumber: string): Promise<LookupResult>;
  /** A PIN typed at the door, checked by the library system (rules.pinSource sip2). */
  checkPatronPassword(cardNumber: string, password: string): Promise<boolean | 'unavailable'>;
  start(): void;
  stop(): Promise<void>;
}

export interface OnlineCheckOptions {
  lookup: PatronLookup;
  cache: PatronCache;
  logger: Sip2Logger;
  /** The branch's pseudonym for a card: what the log says instead of the card. */
  pseudonym: (cardHash: Buffer) => string;
}

export class OnlineCheck {
  private readonly inFlight = new Map<string, Promise<Member | undefined>>();
  private stopped = false;

  constructor(private readonly options: OnlineCheckOptions) {}

  start(): void {
    this.options.lookup.start();
  }

  /** Stops deciding at once (synchronously, before the first await), then closes the link. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.options.lookup.stop();
    this.options.cache.clear();
  }

  /** The link to the library system, shared with the second opinion after a grant (second-opinion.ts). */
  get lookup(): PatronLookup {
    return this.options.lookup;
  }

  /** A remembered answer, synchronously: a member, null (the LMS does not know the card), undefined (ask). */
  cached(cardHash: Buffer): Member | null | undefined {
    return this.options.cache.get(cardHash);
  }

  /**
   * The member behind a card, from the cache or the LMS. Resolves within the client's deadline and never rejects:
   * undefined means "not a member we can decide on" (unknown to the LMS, or no answer in time).
   * `cardNumber` goes to the LMS only; logs and the cache see `cardHash`.
   */
  check(cardNumber: string, cardHash: Buffer): Promise<Member | undefined> {
    const cached = this.cached(cardHash);
    if (cached !== undefined) return Promise.resolve(cached ?? undefined);
    const key = cardHash.toString('base64');
    const running = this.inFlight.get(key);
    if (running !== undefined) return running;
    const started = performance.now();
    const promise = this.options.lookup
      .lookupPatron(cardNumber)
      .catch((): LookupResult => 'unavailable')
      .then((result) => {
        this.inFlight.delete(key);
        const ms = Math.round(performance.now() - started);
        const person = this.options.pseudonym(cardHash);
        if (result === 'unavailable') {
          this.options.logger.warn({ person, sip2: { outcome: 'unavailable', ms } }, 'SIP2 online check: no answer, deciding as unknown card');
          return undefined;
        }
        if (!this.stopped) this.options.cache.set(cardHash, result ?? null);
        this.options.logger.info({ person, sip2: { outcome: result === undefined ? 'not-found' : 'found', ms } }, 'SIP2 online check');
        return result;
      });
    this.inFlight.set(key, promise);
    return promise;
  }

  /**
   * For the access path: decide once the answer is in. Returns false, and does nothing, when a check for this card
   * is already under way (the new tap is part of the one being decided). `decide` is not called once the gateway
   * has stopped; an error it throws is logged, never left as an unhandled rejection.
   */
  whenChecked(cardNumber: string, cardHash: Buffer, decide: (member: Member | undefined) => void): boolean {
    if (this.inFlight.has(cardHash.toString('base64'))) return false;
    void this.check(cardNumber, cardHash).then((member) => {
      if (this.stopped) return;
      try {
        decide(member);
      } catch (error) {
        this.options.logger.warn({ person: this.options.pseudonym(cardHash), err: { message: (error as Error).message } }, 'deciding after the SIP2 online check failed');
      }
    });
    return true;
  }
}

export interface OnlineCheckDeps {
  clock: CacheClock;
  logger: Sip2Logger;
  env: NodeJS.ProcessEnv;
  pseudonym: (cardHash: Buffer) => string;
}

/** Builds the check from the `sip2:` section (paths already resolved). Throws ConfigError for a missing password or CA. */
export function createOnlineCheck(config: Sip2Config, deps: OnlineCheckDeps): OnlineCheck {
  const client = new Sip2Client({
    host: config.host,
    port: config.port,
    tls: tlsOptions(config),
    institutionId: config.institutionId,
    user: config.user,
    password: loadSip2Password(config, deps.env),
    locationCode: config.locationCode,
    terminalPassword: config.terminalPassword,
    message: config.message,
    mapping: config.mapping,
    timeoutMs: config.timeoutMs,
    keepaliveMs: config.keepaliveSeconds * 1000,
    reconnectMinMs: config.reconnectMinMs,
    reconnectMaxMs: config.reconnectMaxMs,
    clock: deps.clock,
    logger: deps.logger,
  });
  if (config.mapping.openAccess === 'none') {
    deps.logger.info({ sip2: { openAccess: 'none' } }, 'SIP2: patrons found online are not registered for open access (sip2.mapping.openAccess)');
  }
  const cache = new PatronCache(deps.clock, config.cacheMinutes * 60_000, config.notFoundCacheSeconds * 1000);
  return new OnlineCheck({ lookup: client, cache, logger: deps.logger, pseudonym: deps.pseudonym });
}

/** OAG_SIP2_PASSWORD first (systemd's EnvironmentFile), then `passwordFile`. Never from the YAML itself. */
export function loadSip2Password(config: Pick<Sip2Config, 'passwordFile'>, env: NodeJS.ProcessEnv): string {
  const fromEnv = env.OAG_SIP2_PASSWORD;
  let password: string;
  let source: string;
  if (fromEnv !== undefined && fromEnv !== '') {
    password = fromEnv;
    source = 'OAG_SIP2_PASSWORD';
  } else if (config.passwordFile !== undefined) {
    source = 'sip2.passwordFile';
    // Bounded: a path that is a FIFO or /dev/zero must fail, not hang the extension's start.
    const read = readTextFile(config.passwordFile, { what: `sip2.passwordFile (${config.passwordFile})`, maxBytes: MAX_KEY_FILE_BYTES });
    if (!read.ok) throw new ConfigError('sip2', [read.error]);
    password = read.text.replace(/\r?\n$/, '');
  } else {
    throw new ConfigError('sip2', ['OAG_SIP2_PASSWORD: not set (and no sip2.passwordFile in the config)']);
  }
  if (/[|\r\n]/.test(password)) throw new ConfigError('sip2', [`${source}: the password must not contain "|" or a line break`]);
  return password;
}

function tlsOptions(config: Sip2Config): ConnectionOptions | undefined {
  if (config.tls === false) return undefined;
  if (config.tls === true) return {};
  const options: ConnectionOptions = { rejectUnauthorized: config.tls.rejectUnauthorized };
  if (config.tls.servername !== undefined) options.servername = config.tls.servername;
  if (config.tls.ca !== undefined) {
    const read = readFileBytes(config.tls.ca, { what: `sip2.tls.ca (${config.tls.ca})`, maxBytes: 1024 * 1024 });
    if (!read.ok) throw new ConfigError('sip2', [read.error]);
    options.ca = Buffer.from(read.bytes);
  }
  return options;
}
