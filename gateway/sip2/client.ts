// A SIP2 client for patron look-ups: one connection kept open and logged in, one request at a time, a deadline
// on every look-up, reconnection with backoff. It never throws at its caller and never logs a message's text:
// requests carry the clear card number (the LMS needs it) and the login carries the password.
//
// Timers here are real timers, not the gateway's clock: they measure a network, which does not run faster when
// the demo's clock does.
import { connect as netConnect } from 'node:net';
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { ConnectionOptions } from 'node:tls';
import type { Member } from '../../policies/types.js';
import { FrameSplitter, decode, encode, sipDateTime } from './codec.js';
import type { Sip2Message } from './codec.js';
import { patronToMember } from './mapping.js';
import type { Sip2Mapping } from './mapping.js';
import {
  REQUEST_ACS_RESEND,
  SUPPORTED_INDEX,
  loginRequest,
  patronInformationRequest,
  patronStatusRequest,
  readAcsStatus,
  readLoginResponse,
  readPatronResponse,
  scStatusRequest,
} from './messages.js';
import type { PatronResponse } from './messages.js';

export type LookupResult = Member | undefined | 'unavailable';

/** The part of a pino logger the client uses. */
export interface Sip2Logger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  debug(object: object, message: string): void;
}

export interface Sip2ClientOptions {
  host: string;
  port: number;
  /** Present: TLS with these options. */
  tls?: ConnectionOptions | undefined;
  institutionId: string;
  user: string;
  password: string;
  locationCode?: string | undefined;
  terminalPassword?: string | undefined;
  message: 'patron-information' | 'patron-status';
  mapping: Sip2Mapping;
  /** Whole look-up, from the call to the answer (queueing, resend and all). */
  timeoutMs: number;
  /** Connect, login and SC status. Default: the larger of timeoutMs and 5 s. */
  handshakeTimeoutMs?: number | undefined;
  /** SC status after this long idle; 0 = never. */
  keepaliveMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** For the transaction date in requests. */
  clock: { now(): Date };
  logger: Sip2Logger;
}

type Failure = 'timeout' | 'closed' | 'checksum' | 'protocol';
type Outcome = { ok: true; message: Sip2Message } | { ok: false; why: Failure };

interface Job {
  body: string;
  expect: string;
  resolve(outcome: Outcome): void;
  timer: ReturnType<typeof setTimeout> | undefined;
  done: boolean;
}

interface Exchange {
  job: Job;
  sequence: number;
  bytes: Buffer;
  /** 97s sent for this exchange (bad checksums received). */
  resendRequests: number;
  /** 96s answered for this exchange. */
  resendsGiven: number;
}

type State = 'idle' | 'connecting' | 'ready' | 'waiting' | 'stopped';

const CARD_SAFE = /^[^|\r\n]{1,64}$/;

export class Sip2Client {
  private state: State = 'idle';
  private socket: Socket | undefined;
  private readonly splitter = new FrameSplitter();
  private sequence = 0;
  private current: Exchange | undefined;
  private readonly queue: Job[] = [];
  private attempts = 0;
  private wasReady = false;
  private lastProblem = '';
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private keepaliveTimer: ReturnType<typeof setTimeout> | undefined;
  private closeWaiters: Array<() => void> = [];

  constructor(private readonly options: Sip2ClientOptions) {}

  /** Connect and log in, in the background. Look-ups before the link is up wait for it within their deadline. */
  start(): void {
    if (this.state !== 'idle') return;
    this.connect();
  }

  /** Logged in and answering. */
  get ready(): boolean {
    return this.state === 'ready';
  }

  /**
   * The patron behind a card number: a member, undefined (the LMS does not know the card), or 'unavailable' (no
   * usable answer in time: not connected, timed out, bad checksums, or an answer a decision cannot rest on).
   */
  async lookupPatron(cardNumber: string): Promise<LookupResult> {
    const response = await this.askAbout(cardNumber);
    if (response === 'unavailable') return response;
    const o = this.options;
    const mapped = patronToMember(response, o.mapping);
    if (mapped.kind === 'invalid') {
      o.logger.warn({ sip2: { problem: mapped.problem } }, 'SIP2 patron answer not usable');
      return 'unavailable';
    }
    return mapped.kind === 'found' ? mapped.member : undefined;
  }

  /**
   * Whether `password` (a PIN typed at the door) is the patron's, as the library system says (CQ in its answer to a
   * patron request with AD): the PIN is checked there each time and never kept at the branch. 'unavailable' when no
   * usable answer came in time, or the answer did not say (an ACS that ignores AD sends no CQ).
   */
  async checkPatronPassword(cardNumber: string, password: string): Promise<boolean | 'unavailable'> {
    const response = await this.askAbout(cardNumber, password);
    if (response === 'unavailable' || response.validPassword === undefined) return 'unavailable';
    return response.validPatron !== false && response.validPassword;
  }

  /** One patron request (23 or 64, as configured), and its answer if it is about this patron. */
  private async askAbout(cardNumber: string, patronPassword?: string): Promise<PatronResponse | 'unavailable'> {
    if (!CARD_SAFE.test(cardNumber)) throw new TypeError('patron identifier: must be 1 to 64 characters without "|" or a line break');
    if (this.state !== 'ready' && this.state !== 'connecting') return 'unavailable';
    const o = this.options;
    const request = { institutionId: o.institutionId, patronId: cardNumber, terminalPassword: o.terminalPassword, patronPassword, at: sipDateTime(o.clock.now()) };
    const body = o.message === 'patron-status' ? patronStatusRequest(request) : patronInformationRequest(request);
    const outcome = await this.enqueue(body, o.message === 'patron-status' ? '24' : '64', o.timeoutMs);
    if (!outcome.ok) return 'unavailable';
    const response = readPatronResponse(outcome.message);
    if (response.patronId !== undefined && response.patronId !== '' && !samePatron(response.patronId, cardNumber)) {
      // One request at a time and sequence numbers make this impossible with a sound ACS; a door must not open on it.
      this.drop('the ACS answered about a different patron');
      return 'unavailable';
    }
    return response;
  }

  /** Close the link; pending look-ups become 'unavailable'. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.keepaliveTimer);
    for (const job of this.queue.splice(0)) this.finish(job, { ok: false, why: 'closed' });
    if (this.current !== undefined) this.finish(this.current.job, { ok: false, why: 'closed' });
    const socket = this.socket;
    if (socket === undefined) return;
    const closed = new Promise<void>((resolve) => this.closeWaiters.push(resolve));
    socket.end();
    const force = setTimeout(() => socket.destroy(), 500);
    await closed;
    clearTimeout(force);
  }

  // ---- connection ----

  private connect(): void {
    const o = this.options;
    this.state = 'connecting';
    this.sequence = 0;
    this.splitter.reset();
    const socket = o.tls === undefined ? netConnect({ host: o.host, port: o.port }) : tlsConnect({ host: o.host, port: o.port, ...o.tls });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    const handshakeMs = this.handshakeTimeoutMs();
    const connectTimer = setTimeout(() => this.drop('connect timed out', socket), handshakeMs);
    socket.once(o.tls === undefined ? 'connect' : 'secureConnect', () => {
      clearTimeout(connectTimer);
      void this.handshake(socket, handshakeMs);
    });
    socket.on('data', (chunk: Buffer) => this.onData(socket, chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // Socket and TLS errors name addresses and causes, never message content.
      this.lastProblem = error.code ?? error.message;
    });
    socket.on('close', () => {
      clearTimeout(connectTimer);
      this.onClose(socket);
    });
  }

  private async handshake(socket: Socket, timeoutMs: number): Promise<void> {
    const o = this.options;
    const login = await this.exchange(loginRequest({ user: o.user, password: o.password, locationCode: o.locationCode }), '94', timeoutMs);
    if (socket !== this.socket) return;
    if (!login.ok) return this.drop(`no answer to login (${login.why})`, socket);
    if (!readLoginResponse(login.message).ok) return this.drop('login refused: check sip2.user and the password', socket);
    const status = await this.exchange(scStatusRequest(), '98', timeoutMs);
    if (socket !== this.socket) return;
    if (!status.ok) return this.drop(`no answer to SC status (${status.why})`, socket);
    const acs = readAcsStatus(status.message);
    if (!acs.online) return this.drop('the ACS reports itself offline', socket);
    const supported = acs.supported?.[SUPPORTED_INDEX[o.message]];
    if (supported === 'N') o.logger.warn({ sip2: { message: o.message } }, 'the ACS says it does not support this SIP2 message; trying anyway');
    this.state = 'ready';
    this.attempts = 0;
    this.wasReady = true;
    this.lastProblem = '';
    o.logger.info({ sip2: { host: o.host, port: o.port, tls: o.tls !== undefined } }, 'SIP2 connected');
    this.pump();
  }

  /** Closes this connection (the current one by default); onClose schedules the next. */
  private drop(reason: string, socket = this.socket): void {
    if (socket === undefined || socket !== this.socket) return;
    this.lastProblem = reason;
    // Not ready from now on: look-ups queue for the next connection instead of going out on this one.
    if (this.state === 'ready') this.state = 'connecting';
    socket.destroy();
  }

  private onClose(socket: Socket): void {
    if (socket !== this.socket) return;
    this.socket = undefined;
    clearTimeout(this.keepaliveTimer);
    if (this.current !== undefined) this.finish(this.current.job, { ok: false, why: 'closed' });
    if (this.state === 'stopped') {
      for (const resolve of this.closeWaiters.splice(0)) resolve();
      return;
    }
    // A link that was working is tried again at once (a timeout closes it on purpose), and what is queued waits
    // for it within its deadline; a link that is not working is tried with backoff, and nothing queued can be
    // answered before then: tell the callers now.
    if (!this.wasReady) for (const job of this.queue.splice(0)) this.finish(job, { ok: false, why: 'closed' });
    const o = this.options;
    const problem = this.lastProblem === '' ? 'closed by the ACS' : this.lastProblem;
    const delay = this.wasReady ? 0 : Math.min(o.reconnectMaxMs, o.reconnectMinMs * 2 ** Math.min(this.attempts, 20));
    if (this.wasReady) o.logger.warn({ sip2: { problem } }, 'SIP2 connection lost; reconnecting');
    else if (this.attempts === 0 || this.attempts % 10 === 0) o.logger.warn({ sip2: { problem, retryInMs: delay, attempts: this.attempts + 1 } }, 'SIP2 cannot connect');
    else o.logger.debug({ sip2: { problem, retryInMs: delay, attempts: this.attempts + 1 } }, 'SIP2 cannot connect');
    if (!this.wasReady) this.attempts++;
    this.wasReady = false;
    this.lastProblem = '';
    this.state = 'waiting';
    this.reconnectTimer = setTimeout(() => {
      if (this.state === 'waiting') this.connect();
    }, delay);
    this.reconnectTimer.unref?.();
  }

  private handshakeTimeoutMs(): number {
    return this.options.handshakeTimeoutMs ?? Math.max(this.options.timeoutMs, 5000);
  }

  // ---- requests ----

  /** Queue a request for the ready link. The deadline runs from now, queueing included. */
  private enqueue(body: string, expect: string, timeoutMs: number): Promise<Outcome> {
    return new Promise((resolve) => {
      const job: Job = { body, expect, resolve, timer: undefined, done: false };
      job.timer = setTimeout(() => this.expire(job), timeoutMs);
      this.queue.push(job);
      this.pump();
    });
  }

  /** Send at once on a link that is not ready yet (login, SC status). */
  private exchange(body: string, expect: string, timeoutMs: number): Promise<Outcome> {
    return new Promise((resolve) => {
      const job: Job = { body, expect, resolve, timer: undefined, done: false };
      job.timer = setTimeout(() => this.expire(job), timeoutMs);
      this.send(job);
    });
  }

  private pump(): void {
    if (this.state !== 'ready' || this.current !== undefined || this.socket === undefined) return;
    const job = this.queue.shift();
    if (job === undefined) {
      this.armKeepalive();
      return;
    }
    clearTimeout(this.keepaliveTimer);
    this.send(job);
  }

  private send(job: Job): void {
    const socket = this.socket;
    if (socket === undefined) return this.finish(job, { ok: false, why: 'closed' });
    const sequence = this.sequence;
    this.sequence = (sequence + 1) % 10;
    const bytes = encode(job.body, { sequence });
    this.current = { job, sequence, bytes, resendRequests: 0, resendsGiven: 0 };
    socket.write(bytes);
  }

  private expire(job: Job): void {
    if (job.done) return;
    const queued = this.queue.indexOf(job);
    if (queued !== -1) this.queue.splice(queued, 1);
    const wasCurrent = this.current?.job === job;
    this.finish(job, { ok: false, why: 'timeout' });
    // An answer may still be on its way; the next request must not read it as its own. A fresh connection is
    // the one sure way, and it also finds a link that died without telling anyone.
    if (wasCurrent) this.drop('no answer in time');
  }

  private finish(job: Job, outcome: Outcome): void {
    if (job.done) return;
    job.done = true;
    clearTimeout(job.timer);
    if (this.current?.job === job) this.current = undefined;
    job.resolve(outcome);
    this.pump();
  }

  private armKeepalive(): void {
    clearTimeout(this.keepaliveTimer);
    const ms = this.options.keepaliveMs;
    if (ms <= 0) return;
    this.keepaliveTimer = setTimeout(() => {
      void this.enqueue(scStatusRequest(), '98', this.handshakeTimeoutMs()).then((outcome) => {
        if (!outcome.ok) this.drop(`no answer to SC status (${outcome.why})`);
      });
    }, ms);
    this.keepaliveTimer.unref?.();
  }

  private onData(socket: Socket, chunk: Buffer): void {
    if (socket !== this.socket) return;
    let frames: Buffer[];
    try {
      frames = this.splitter.push(chunk);
    } catch {
      return this.drop('an over-long message from the ACS');
    }
    for (const frame of frames) this.onFrame(frame);
  }

  private onFrame(frame: Buffer): void {
    const current = this.current;
    const { logger } = this.options;
    const decoded = decode(frame);
    if (!decoded.ok) {
      if (current === undefined) return logger.debug({ sip2: { problem: decoded.problem, code: decoded.code } }, 'SIP2 message ignored');
      if (decoded.problem !== 'malformed' && current.resendRequests === 0) {
        // The spec's remedy: 97 asks the ACS for its last message again (no sequence number on a 97).
        current.resendRequests++;
        this.socket?.write(encode(REQUEST_ACS_RESEND));
        return;
      }
      logger.warn({ sip2: { problem: decoded.problem, code: decoded.code } }, 'SIP2 answer refused');
      this.finish(current.job, { ok: false, why: decoded.problem === 'malformed' ? 'protocol' : 'checksum' });
      return this.drop(`SIP2 answer refused (${decoded.problem})`);
    }
    const message = decoded.message;
    if (current === undefined) return logger.debug({ sip2: { code: message.code } }, 'SIP2 message with no request ignored');
    if (message.code === '96') {
      // The ACS could not read our message: send it again, once.
      if (current.resendsGiven === 0) {
        current.resendsGiven++;
        this.socket?.write(current.bytes);
        return;
      }
      this.finish(current.job, { ok: false, why: 'checksum' });
      return this.drop('the ACS cannot read our messages');
    }
    if (message.sequence !== current.sequence) {
      // A late answer to an earlier request, or an ACS that does not echo AY: not this request's answer.
      return logger.debug({ sip2: { code: message.code, sequence: message.sequence ?? null, expected: current.sequence } }, 'SIP2 answer with another sequence number ignored');
    }
    if (message.code !== current.job.expect) {
      logger.warn({ sip2: { code: message.code, expected: current.job.expect } }, 'SIP2 answer of the wrong kind');
      this.finish(current.job, { ok: false, why: 'protocol' });
      return this.drop('an answer of the wrong kind');
    }
    this.finish(current.job, { ok: true, message });
  }
}

function samePatron(answered: string, asked: string): boolean {
  const norm = (s: string): string => s.replace(/\s+/g, '').toUpperCase();
  return norm(answered) === norm(asked);
}
